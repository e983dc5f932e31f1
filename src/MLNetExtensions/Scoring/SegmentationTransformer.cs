using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained segmenter as an ML.NET transformer: reads the image path column and adds <c>PredictedMask</c>
/// (vector of byte, H×W class indices of the original image, row-major), which
/// <c>mlContext.Segmentation().Evaluate</c> reads, and its <c>PredictedMaskWidth</c> and <c>PredictedMaskHeight</c>.
/// Read them with <see cref="SegmentationPrediction"/>.
/// </summary>
/// <remarks>
/// Like <see cref="DetectionTransformer"/>, a chain of public ML.NET pieces (the network in <c>ApplyOnnxModel</c>,
/// arg-max and resizing in a stateless <c>CustomMapping</c>), so <c>mlContext.Model.Save</c>/<c>Load</c> work in any
/// process; <see cref="Load(MLContext, string)"/> re-wraps a loaded chain. Scoring needs neither TorchSharp nor libtorch.
/// </remarks>
public sealed class SegmentationTransformer : OnnxScoringTransformer
{
    private readonly PerThreadPredictionEngine<SegmentationPrediction> _engines;

    private SegmentationTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain, string imagePathColumn, ScoringDevice device)
        : base(onnxModel, metadata, chain, imagePathColumn, device)
    {
        _engines = new PerThreadPredictionEngine<SegmentationPrediction>(chain, ImagePathColumn);
    }

    /// <summary>Builds the scoring chain for an exported segmenter.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX segmenter written by this library (metadata kind Segmentation).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static SegmentationTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = SegmentationColumns.ImagePath)
        => Create(mlContext, onnxModel, ScoringOptions.ForColumn(imagePathColumn));

    /// <summary>Builds the scoring chain for an exported segmenter, with the image column and device of <paramref name="options"/>.</summary>
    /// <param name="mlContext">The context; a GPU fallback is logged to its <c>Log</c>.</param>
    /// <param name="onnxModel">An ONNX segmenter written by this library (metadata kind Segmentation).</param>
    /// <param name="options">Image column and device.</param>
    public static SegmentationTransformer Create(MLContext mlContext, byte[] onnxModel, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        var metadata = ReadMetadata(onnxModel, OnnxModelKind.Segmentation, "segmenter");
        var device = ScoringDevice.Resolve(mlContext, onnxModel, options);
        string imagePathColumn = options.ImagePathColumnOr(SegmentationColumns.ImagePath);
        var chain = BuildChain(mlContext, onnxModel, metadata, imagePathColumn, device,
            [ScoringColumns.OnnxLogits, ScoringColumns.OnnxLogitsShape],
            [mlContext.Transforms.CustomMapping(new SegmentationOutputMapping().GetMapping(), SegmentationOutputMapping.ContractName)],
            []);
        return new SegmentationTransformer(onnxModel, metadata, chain, imagePathColumn, device);
    }

    /// <summary>Loads a segmenter saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="OnnxScoringTransformer.Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no segmenter; the message names it.</exception>
    public static SegmentationTransformer Load(MLContext mlContext, string path) => Load(mlContext, path, ScoringOptions.Default);

    /// <summary>
    /// Loads a segmenter saved with <c>mlContext.Model.Save</c> to run on the device of <paramref name="options"/>
    /// (the saved chain is rebuilt from its ONNX network for a GPU or another image column).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no segmenter; the message names it.</exception>
    public static SegmentationTransformer Load(MLContext mlContext, string path, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (onnx, metadata, chain, savedInput) = LoadSaved(mlContext, path, OnnxModelKind.Segmentation, "segmenter", nameof(SegmentationTransformer));
        string savedColumn = SavedImagePathColumn(chain, savedInput, SegmentationColumns.ImagePath);
        return RebuildOptions(options, savedColumn) is { } rebuild
            ? Create(mlContext, onnx, rebuild)
            : new SegmentationTransformer(onnx, metadata, chain, savedColumn, ScoringDevice.Cpu);
    }

    /// <summary>
    /// Segments one image file: a <c>PredictionEngine&lt;ImageInput, SegmentationPrediction&gt;</c> of this transformer,
    /// one per calling thread, so it may be called from several threads at once.
    /// </summary>
    /// <exception cref="FileNotFoundException">The image does not exist.</exception>
    public SegmentationPrediction Segment(string imagePath)
    {
        return WhileInUse(() => _engines.Predict(imagePath));
    }

    private protected override void DisposeSessions() => _engines.Dispose();

    /// <summary>The shape of the <c>PredictedMask</c> column, for estimators' <c>GetOutputSchema</c>.</summary>
    public static IEnumerable<SchemaShape.Column> OutputColumnsShape()
    {
        var view = new MLContext().Data.LoadFromEnumerable(Array.Empty<SegmentationOutputRow>());
        return Transforms.Internal.SchemaShapes.Create(view.Schema);
    }
}
