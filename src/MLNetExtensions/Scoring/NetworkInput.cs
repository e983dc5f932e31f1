using Microsoft.ML;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Scoring;

/// <summary>What a network takes as input: size and colour. Normalisation happens inside the network (and its ONNX
/// graph), so the input is always raw pixels in [0, 255].</summary>
public sealed record NetworkInput(int Width, int Height, bool Grayscale)
{
    public int Channels => Grayscale ? 1 : 3;

    /// <summary>
    /// The ML.NET transforms from an image path column to (C, H, W) pixels: <c>LoadImages</c> → <c>ResizeImages</c>
    /// (stretch) → optional <c>ConvertToGrayscale</c> → <c>ExtractPixels</c> (planar RGB). Training and scoring both
    /// call this, so they see the same pixels.
    /// </summary>
    public IEstimator<ITransformer> PixelPipeline(MLContext ml, string imagePathColumn, string pixelsColumn, bool asFloat)
    {
        IEstimator<ITransformer> pipe = ml.Transforms.LoadImages(ScoringColumns.Image, null, imagePathColumn)
            .Append(ml.Transforms.ResizeImages(ScoringColumns.Image, Width, Height, ScoringColumns.Image, ImageResizingEstimator.ResizingKind.Fill));
        if (Grayscale) pipe = pipe.Append(ml.Transforms.ConvertToGrayscale(ScoringColumns.Image, ScoringColumns.Image));
        return pipe.Append(ml.Transforms.ExtractPixels(pixelsColumn, ScoringColumns.Image,
            colorsToExtract: Grayscale ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
            orderOfExtraction: ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, outputAsFloatArray: asFloat));
    }
}
