using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained detector as an ML.NET transformer: reads the image path column and adds <c>PredictedBoxes</c> (N×4 pixels
/// of the original image), <c>PredictedLabels</c> (keys whose values are the class names), <c>Scores</c> and
/// <c>PredictedLabelNames</c> (the class names as text). Read them with <see cref="DetectionPrediction"/>.
/// </summary>
/// <remarks>
/// It is a chain of public ML.NET pieces (the network runs in <c>ApplyOnnxModel</c>, whose ONNX bytes are stored in
/// the saved zip; NMS and formatting run in stateless <c>CustomMapping</c>s), so <c>mlContext.Model.Save</c> writes that
/// chain and <c>mlContext.Model.Load</c> in any process gives it back; <see cref="Load(MLContext, string)"/> re-wraps it
/// (<see cref="OnnxScoringTransformer"/>).
/// Scoring needs neither TorchSharp nor libtorch.
/// </remarks>
public sealed class DetectionTransformer : OnnxScoringTransformer
{
    // ONNX Runtime's first runs on a new session cost several steady runs (memory planning, arena growth), so the
    // batched path keeps one session for the transformer's lifetime instead of one per ScoreBatched call.
    private readonly Lazy<InferenceSession> _session;
    private readonly PerThreadPredictionEngine<DetectionPrediction> _engines;

    private DetectionTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain, string imagePathColumn, ScoringDevice device)
        : base(onnxModel, metadata, chain, imagePathColumn, device)
    {
        _session = new Lazy<InferenceSession>(() => device.CreateSession(onnxModel), LazyThreadSafetyMode.ExecutionAndPublication);
        _engines = new PerThreadPredictionEngine<DetectionPrediction>(chain, ImagePathColumn);
    }

    /// <summary>Builds the scoring chain for an exported detector.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = DetectionColumns.ImagePath)
        => Create(mlContext, onnxModel, ScoringOptions.ForColumn(imagePathColumn));

    /// <summary>Builds the scoring chain for an exported detector, with the image column and device of <paramref name="options"/>.</summary>
    /// <param name="mlContext">The context; a GPU fallback is logged to its <c>Log</c>.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="options">Image column and device.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        var metadata = ReadMetadata(onnxModel, OnnxModelKind.Detection, "detector");
        var device = ScoringDevice.Resolve(mlContext, onnxModel, options);
        var classNames = metadata.ClassNames;
        string imagePathColumn = options.ImagePathColumnOr(DetectionColumns.ImagePath);
        var chain = BuildChain(mlContext, onnxModel, metadata, imagePathColumn, device,
            [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess],
            [
                mlContext.Transforms.CustomMapping(new DetectionOutputMapping().GetMapping(), DetectionOutputMapping.ContractName),
                mlContext.Transforms.Conversion.MapValue(DetectionColumns.PredictedLabelNames,
                    classNames.Select((n, i) => new KeyValuePair<uint, string>((uint)(i + 1), n)), ScoringColumns.LabelIndices),
                mlContext.Transforms.Conversion.MapValueToKey(DetectionColumns.PredictedLabels, DetectionColumns.PredictedLabelNames,
                    keyData: mlContext.Data.LoadFromEnumerable(classNames.Select(n => new ClassNameRow { Name = n }))),
            ],
            [ScoringColumns.LabelIndices]);
        return new DetectionTransformer(onnxModel, metadata, chain, imagePathColumn, device);
    }

    /// <summary>Loads a detector saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="OnnxScoringTransformer.Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path) => Load(mlContext, path, ScoringOptions.Default);

    /// <summary>
    /// Loads a detector saved with <c>mlContext.Model.Save</c> to run on the device of <paramref name="options"/>
    /// (the saved chain is rebuilt from its ONNX network for a GPU or another image column).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (onnx, metadata, chain, savedInput) = LoadSaved(mlContext, path, OnnxModelKind.Detection, "detector", nameof(DetectionTransformer));
        string savedColumn = SavedImagePathColumn(chain, savedInput, DetectionColumns.ImagePath);
        return RebuildOptions(options, savedColumn) is { } rebuild
            ? Create(mlContext, onnx, rebuild)
            : new DetectionTransformer(onnx, metadata, chain, savedColumn, ScoringDevice.Cpu);
    }

    /// <summary>
    /// Detects the objects in one image file: a <c>PredictionEngine&lt;ImageInput, DetectionPrediction&gt;</c> of this
    /// transformer, one per calling thread, so it may be called from several threads at once.
    /// </summary>
    /// <exception cref="FileNotFoundException">The image does not exist.</exception>
    public DetectionPrediction Detect(string imagePath)
    {
        ThrowIfDisposed();
        return _engines.Predict(imagePath);
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
        ThrowIfDisposed();
        return BatchedDetectionScorer.Score(Chain, _session.Value, Metadata, input, batchSize);
    }

    private protected override void DisposeSessions()
    {
        _engines.Dispose();
        if (_session.IsValueCreated) _session.Value.Dispose();
    }

    /// <summary>The shapes of the four prediction columns, for estimators' <c>GetOutputSchema</c>.</summary>
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
        public string[] PredictedLabelNames = [];
    }

    private sealed class ClassNameRow { public string Name = ""; }
}
