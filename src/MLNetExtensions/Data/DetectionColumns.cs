namespace MLNetExtensions.Data;

/// <summary>
/// The one detection schema every reader writes and every trainer, transform and evaluator reads.
/// <list type="bullet">
/// <item><see cref="ImagePath"/>: text, the image file.</item>
/// <item><see cref="Boxes"/>: <c>VBuffer&lt;float&gt;</c> of N×4 values <c>[xmin, ymin, xmax, ymax]</c> in pixels of
/// the image as stored on disk (row-major: box i is elements 4i..4i+3).</item>
/// <item><see cref="Labels"/>: vector of <c>uint</c> keys (1-based, 0 = missing) whose key values
/// (<c>KeyValues</c> annotation) are the class names; one per box.</item>
/// <item><see cref="Difficult"/>: optional vector of <c>bool</c>, one per box (Pascal VOC's flag; evaluation ignores these).</item>
/// </list>
/// Scored data adds <see cref="PredictedBoxes"/>, <see cref="PredictedLabels"/> and <see cref="Scores"/> of the same shapes,
/// and <see cref="PredictedLabelNames"/>, the class names of <see cref="PredictedLabels"/> as text (what
/// <c>Scoring.DetectionPrediction.PredictedLabels</c> reads).
/// </summary>
public static class DetectionColumns
{
    public const string ImagePath = "ImagePath";
    public const string Boxes = "Boxes";
    public const string Labels = "Labels";
    public const string Difficult = "Difficult";

    public const string PredictedBoxes = "PredictedBoxes";
    public const string PredictedLabels = "PredictedLabels";
    public const string Scores = "Scores";
    /// <summary>Vector of text: the class name of each predicted box (the key values of <see cref="PredictedLabels"/>).</summary>
    public const string PredictedLabelNames = "PredictedLabelNames";
}

/// <summary>
/// The segmentation schema: <see cref="ImagePath"/> and <see cref="MaskPath"/> (text). Mask pixels are class
/// indices (0 = background); <see cref="IgnoreIndex"/> (255) marks pixels no loss or metric counts.
/// Scored data adds <see cref="PredictedMask"/>: <c>VBuffer&lt;byte&gt;</c> of H×W class indices, row-major, at the
/// original image size, with its width and height in <see cref="PredictedMaskWidth"/> and <see cref="PredictedMaskHeight"/> (<c>int</c>).
/// </summary>
public static class SegmentationColumns
{
    public const string ImagePath = "ImagePath";
    public const string MaskPath = "MaskPath";
    public const string PredictedMask = "PredictedMask";
    public const string PredictedMaskWidth = "PredictedMaskWidth";
    public const string PredictedMaskHeight = "PredictedMaskHeight";
    public const byte IgnoreIndex = 255;
}
