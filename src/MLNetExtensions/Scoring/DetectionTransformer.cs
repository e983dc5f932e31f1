using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained detector as an ML.NET transformer: reads the image path column and adds <c>PredictedBoxes</c> (N×4 pixels
/// of the original image), <c>PredictedLabels</c> (keys whose values are the class names) and <c>Scores</c>.
/// </summary>
/// <remarks>
/// It is a chain of public ML.NET pieces (the network runs in <c>ApplyOnnxModel</c>, whose ONNX bytes are stored in
/// the saved zip; NMS and formatting run in stateless <c>CustomMapping</c>s), so <c>mlContext.Model.Save</c> writes that
/// chain and <c>mlContext.Model.Load</c> in any process gives it back; <see cref="Load(MLContext, string)"/> re-wraps it.
/// Scoring needs neither TorchSharp nor libtorch.
/// </remarks>
public sealed class DetectionTransformer : ITransformer, ICanSaveModel, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    // ONNX Runtime's first runs on a new session cost several steady runs (memory planning, arena growth), so the
    // batched path keeps one session for the transformer's lifetime instead of one per ScoreBatched call.
    private readonly Lazy<InferenceSession> _session;

    private DetectionTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain)
    {
        OnnxModel = onnxModel;
        Metadata = metadata;
        _chain = chain;
        _session = new Lazy<InferenceSession>(() => new InferenceSession(onnxModel), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The exported network, as written by <see cref="ExportOnnx(string)"/>.</summary>
    public byte[] OnnxModel { get; }

    /// <summary>What the network was trained for: classes, input size, thresholds.</summary>
    public OnnxModelMetadata Metadata { get; }

    public IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>The ML.NET chain that does the work; what <c>mlContext.Model.Save</c> writes.</summary>
    public TransformerChain<ITransformer> Chain => _chain;

    public bool IsRowToRowMapper => true;

    /// <summary>Builds the scoring chain for an exported detector.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = DetectionColumns.ImagePath)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(onnxModel);
        var metadata = OnnxModelMetadata.Read(new MemoryStream(onnxModel), "the detector");
        if (metadata.Kind != OnnxModelKind.Detection)
            throw new InvalidDataException($"The ONNX model is a {metadata.Kind} model; a detector (kind Detection) is needed.");
        var input = new NetworkInput(metadata.InputWidth, metadata.InputHeight, metadata.InputChannels == 1);
        var classNames = metadata.ClassNames;
        RegisterComponents(mlContext);

        var pipeline = mlContext.Transforms.CopyColumns(ScoringColumns.ImagePath, imagePathColumn)
            .Append(mlContext.Transforms.CustomMapping(new ImageSizeMapping().GetMapping(), ImageSizeMapping.ContractName))
            .Append(input.PixelPipeline(mlContext, ScoringColumns.ImagePath, ScoringColumns.OnnxPixels, asFloat: true))
            .Append(mlContext.Transforms.ApplyOnnxModel(
                [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess], [ScoringColumns.OnnxPixels],
                new MemoryStream(onnxModel),
                new Dictionary<string, int[]> { [ScoringColumns.OnnxPixels] = [1, input.Channels, input.Height, input.Width] },
                gpuDeviceId: null, fallbackToCpu: true))
            .Append(mlContext.Transforms.CustomMapping(new DetectionOutputMapping().GetMapping(), DetectionOutputMapping.ContractName))
            .Append(mlContext.Transforms.Conversion.MapValue(ScoringColumns.LabelNames,
                classNames.Select((n, i) => new KeyValuePair<uint, string>((uint)(i + 1), n)), ScoringColumns.LabelIndices))
            .Append(mlContext.Transforms.Conversion.MapValueToKey(DetectionColumns.PredictedLabels, ScoringColumns.LabelNames,
                keyData: mlContext.Data.LoadFromEnumerable(classNames.Select(n => new ClassNameRow { Name = n }))))
            .Append(mlContext.Transforms.DropColumns(ScoringColumns.ImagePath, ScoringColumns.Image, ScoringColumns.OriginalWidth,
                ScoringColumns.OriginalHeight, ScoringColumns.OnnxPixels, ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores,
                ScoringColumns.OnnxPostProcess, ScoringColumns.LabelIndices, ScoringColumns.LabelNames));

        var empty = mlContext.Data.LoadFromEnumerable(Array.Empty<PathRow>(), PathRow.Schema(imagePathColumn));
        var chain = new TransformerChain<ITransformer>(pipeline.Fit(empty).ToArray());
        return new DetectionTransformer(onnxModel, metadata, chain);
    }

    /// <summary>
    /// Makes this library's <c>CustomMapping</c>s (image size, detection output) known to <paramref name="mlContext"/>,
    /// which <c>mlContext.Model.Load</c> of a saved detector needs. <see cref="Load(MLContext, string)"/> calls it; call it
    /// yourself before loading with <c>mlContext.Model.Load</c> directly.
    /// </summary>
    public static void RegisterComponents(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(DetectionTransformer).Assembly);
    }

    /// <summary>Loads a detector saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        // The ONNX bytes are read first: a truncated zip fails here with a message of our own rather than one from
        // deep inside ML.NET's loader.
        var onnx = SavedOnnxModels.Read(path).FirstOrDefault(b => OnnxModelMetadata.Read(new MemoryStream(b), path).Kind == OnnxModelKind.Detection)
            ?? throw new InvalidDataException($"The model file '{path}' holds no detector ONNX model. Save a DetectionTransformer (or its Chain) with mlContext.Model.Save.");
        RegisterComponents(mlContext);
        ITransformer loaded;
        try
        {
            loaded = mlContext.Model.Load(path, out _);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or InvalidOperationException)
        {
            throw new InvalidDataException($"The model file '{path}' cannot be read ({ex.Message}). It is damaged or not a model saved by mlContext.Model.Save; save it again.", ex);
        }
        if (loaded is not TransformerChain<ITransformer> chain)
            throw new InvalidDataException($"The model file '{path}' holds a {loaded.GetType().Name}, not a detector's transformer chain.");
        return new DetectionTransformer(onnx, OnnxModelMetadata.Read(new MemoryStream(onnx), path), chain);
    }

    /// <summary>
    /// Scores <paramref name="input"/> with ONNX Runtime in batches of <paramref name="batchSize"/> images instead of
    /// ML.NET's one row at a time, and returns the input with the same three prediction columns (same types and key
    /// values) that <see cref="Transform"/> adds. The pixels come from this chain's own image transforms and the
    /// detections from the same post-processing, so the results equal <see cref="Transform"/>'s; the predictions
    /// (not the pixels) are held in memory, and the input is read once, here.
    /// </summary>
    /// <param name="input">Data with the image path column the detector was built for.</param>
    /// <param name="batchSize">Images per ONNX Runtime call.</param>
    public IDataView ScoreBatched(IDataView input, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return BatchedDetectionScorer.Score(_chain, _session.Value, Metadata, input, batchSize);
    }

    private bool _disposed;

    /// <summary>Releases the ONNX Runtime sessions of the chain and of <see cref="ScoreBatched"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_session.IsValueCreated) _session.Value.Dispose();
        (_chain as IDisposable)?.Dispose();
    }

    /// <summary>Writes the standalone ONNX network (raw pixels in; boxes, scores and settings out) for other runtimes.</summary>
    public void ExportOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, OnnxModel);
        File.Move(tmp, path, overwrite: true);
    }

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    // Saving writes the inner chain: ML.NET's loader then returns a TransformerChain, which Load re-wraps.
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    /// <summary>The shapes of the three prediction columns, for estimators' <c>GetOutputSchema</c>.</summary>
    public static IEnumerable<SchemaShape.Column> OutputColumnsShape()
    {
        var schema = SchemaDefinition.Create(typeof(PredictionRow));
        schema[nameof(PredictionRow.PredictedLabels)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 1));
        var view = new MLContext().Data.LoadFromEnumerable(Array.Empty<PredictionRow>(), schema);
        return Transforms.Internal.SchemaShapes.Create(view.Schema);
    }

    private sealed class PredictionRow
    {
        public float[] PredictedBoxes = [];
        public uint[] PredictedLabels = [];
        public float[] Scores = [];
    }

    private sealed class ClassNameRow { public string Name = ""; }

    private sealed class PathRow
    {
        public string ImagePath = "";
        public static SchemaDefinition Schema(string column)
        {
            var s = SchemaDefinition.Create(typeof(PathRow));
            s[0].ColumnName = column;
            return s;
        }
    }
}
