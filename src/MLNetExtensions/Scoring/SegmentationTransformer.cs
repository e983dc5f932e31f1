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
public sealed class SegmentationTransformer : OnnxScoringTransformer
{
    private SegmentationTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain)
        : base(onnxModel, metadata, chain)
    {
    }

    /// <summary>Builds the scoring chain for an exported segmenter.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX segmenter written by this library (metadata kind Segmentation).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static SegmentationTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = SegmentationColumns.ImagePath)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var metadata = ReadMetadata(onnxModel, OnnxModelKind.Segmentation, "segmenter");
        var chain = BuildChain(mlContext, onnxModel, metadata, imagePathColumn,
            [ScoringColumns.OnnxLogits, ScoringColumns.OnnxLogitsShape],
            [mlContext.Transforms.CustomMapping(new SegmentationOutputMapping().GetMapping(), SegmentationOutputMapping.ContractName)],
            []);
        return new SegmentationTransformer(onnxModel, metadata, chain);
    }

    /// <summary>Loads a segmenter saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="OnnxScoringTransformer.Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no segmenter; the message names it.</exception>
    public static SegmentationTransformer Load(MLContext mlContext, string path)
    {
        var (onnx, metadata, chain) = LoadSaved(mlContext, path, OnnxModelKind.Segmentation, "segmenter", nameof(SegmentationTransformer));
        return new SegmentationTransformer(onnx, metadata, chain);
    }

    /// <summary>The shape of the <c>PredictedMask</c> column, for estimators' <c>GetOutputSchema</c>.</summary>
    public static IEnumerable<SchemaShape.Column> OutputColumnsShape()
    {
        var view = new MLContext().Data.LoadFromEnumerable(Array.Empty<SegmentationOutputRow>());
        return Transforms.Internal.SchemaShapes.Create(view.Schema);
    }
}
