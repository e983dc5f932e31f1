using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained segmenter as an ML.NET transformer: reads the image path column and adds <c>PredictedMask</c>
/// (vector of byte, H×W class indices of the original image, row-major), which
/// <c>mlContext.Segmentation().Evaluate</c> reads.
/// </summary>
/// <remarks>
/// Like <see cref="DetectionTransformer"/>, a chain of public ML.NET pieces (the network in <c>ApplyOnnxModel</c>,
/// arg-max and resizing in a stateless <c>CustomMapping</c>), so <c>mlContext.Model.Save</c>/<c>Load</c> work in any
/// process; <see cref="Load(MLContext, string)"/> re-wraps a loaded chain. Scoring needs neither TorchSharp nor libtorch.
/// </remarks>
public sealed class SegmentationTransformer : ITransformer, ICanSaveModel
{
    private readonly TransformerChain<ITransformer> _chain;

    private SegmentationTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain)
    {
        OnnxModel = onnxModel;
        Metadata = metadata;
        _chain = chain;
    }

    /// <summary>The exported network, as written by <see cref="ExportOnnx(string)"/>.</summary>
    public byte[] OnnxModel { get; }

    /// <summary>What the network was trained for: classes (index 0 first) and input size.</summary>
    public OnnxModelMetadata Metadata { get; }

    /// <summary>Class names; mask value i is class i.</summary>
    public IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>The ML.NET chain that does the work; what <c>mlContext.Model.Save</c> writes.</summary>
    public TransformerChain<ITransformer> Chain => _chain;

    public bool IsRowToRowMapper => true;

    /// <summary>Builds the scoring chain for an exported segmenter.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX segmenter written by this library (metadata kind Segmentation).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static SegmentationTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = SegmentationColumns.ImagePath)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(onnxModel);
        var metadata = OnnxModelMetadata.Read(new MemoryStream(onnxModel), "the segmenter");
        if (metadata.Kind != OnnxModelKind.Segmentation)
            throw new InvalidDataException($"The ONNX model is a {metadata.Kind} model; a segmenter (kind Segmentation) is needed.");
        var input = new NetworkInput(metadata.InputWidth, metadata.InputHeight, metadata.InputChannels == 1);
        RegisterComponents(mlContext);

        var pipeline = mlContext.Transforms.CopyColumns(ScoringColumns.ImagePath, imagePathColumn)
            .Append(mlContext.Transforms.CustomMapping(new ImageSizeMapping().GetMapping(), ImageSizeMapping.ContractName))
            .Append(input.PixelPipeline(mlContext, ScoringColumns.ImagePath, ScoringColumns.OnnxPixels, asFloat: true))
            .Append(mlContext.Transforms.ApplyOnnxModel(
                [ScoringColumns.OnnxLogits, ScoringColumns.OnnxLogitsShape], [ScoringColumns.OnnxPixels],
                new MemoryStream(onnxModel),
                new Dictionary<string, int[]> { [ScoringColumns.OnnxPixels] = [1, input.Channels, input.Height, input.Width] },
                gpuDeviceId: null, fallbackToCpu: true))
            .Append(mlContext.Transforms.CustomMapping(new SegmentationOutputMapping().GetMapping(), SegmentationOutputMapping.ContractName))
            .Append(mlContext.Transforms.DropColumns(ScoringColumns.ImagePath, ScoringColumns.Image, ScoringColumns.OriginalWidth,
                ScoringColumns.OriginalHeight, ScoringColumns.OnnxPixels, ScoringColumns.OnnxLogits, ScoringColumns.OnnxLogitsShape));

        var empty = mlContext.Data.LoadFromEnumerable(Array.Empty<PathRow>(), PathRow.Schema(imagePathColumn));
        return new SegmentationTransformer(onnxModel, metadata, new TransformerChain<ITransformer>(pipeline.Fit(empty).ToArray()));
    }

    /// <summary>
    /// Makes this library's <c>CustomMapping</c>s (image size, segmentation output) known to <paramref name="mlContext"/>,
    /// which <c>mlContext.Model.Load</c> of a saved segmenter needs in a process that has not built one.
    /// <see cref="Load(MLContext, string)"/> calls it; call it yourself before loading with <c>mlContext.Model.Load</c> directly.
    /// </summary>
    public static void RegisterComponents(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(SegmentationTransformer).Assembly);
    }

    /// <summary>Loads a segmenter saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no segmenter; the message names it.</exception>
    public static SegmentationTransformer Load(MLContext mlContext, string path)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        // The ONNX bytes are read first: a truncated zip fails here with a message of our own rather than one from
        // deep inside ML.NET's loader.
        var onnx = SavedOnnxModels.Read(path).FirstOrDefault(b => OnnxModelMetadata.Read(new MemoryStream(b), path).Kind == OnnxModelKind.Segmentation)
            ?? throw new InvalidDataException($"The model file '{path}' holds no segmenter ONNX model. Save a SegmentationTransformer (or its Chain) with mlContext.Model.Save.");
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
            throw new InvalidDataException($"The model file '{path}' holds a {loaded.GetType().Name}, not a segmenter's transformer chain.");
        return new SegmentationTransformer(onnx, OnnxModelMetadata.Read(new MemoryStream(onnx), path), chain);
    }

    /// <summary>Writes the standalone ONNX network (raw pixels in; logits and their shape out) for other runtimes.</summary>
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

    /// <summary>The shape of the <c>PredictedMask</c> column, for estimators' <c>GetOutputSchema</c>.</summary>
    public static IEnumerable<SchemaShape.Column> OutputColumnsShape()
    {
        var view = new MLContext().Data.LoadFromEnumerable(Array.Empty<SegmentationOutputRow>());
        return Transforms.Internal.SchemaShapes.Create(view.Schema);
    }

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
