using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A segmenter's output row, for <c>mlContext.Model.CreatePredictionEngine&lt;ImageInput, SegmentationPrediction&gt;(model)</c>
/// and <c>mlContext.Data.CreateEnumerable&lt;SegmentationPrediction&gt;(model.Transform(data))</c>. Derive from it to
/// read more columns of the same rows (the image path, the mask path).
/// </summary>
public class SegmentationPrediction
{
    /// <summary><see cref="Height"/>×<see cref="Width"/> class indices, row-major: pixel (x, y) is <c>PredictedMask[y * Width + x]</c>.</summary>
    [ColumnName(SegmentationColumns.PredictedMask)]
    public byte[] PredictedMask { get; set; } = [];

    /// <summary>Width of the mask: the original image's width in pixels.</summary>
    [ColumnName(SegmentationColumns.PredictedMaskWidth)]
    public int Width { get; set; }

    /// <summary>Height of the mask: the original image's height in pixels.</summary>
    [ColumnName(SegmentationColumns.PredictedMaskHeight)]
    public int Height { get; set; }

    /// <summary>The class index at pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public byte ClassAt(int x, int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(x);
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(x, Width);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        return PredictedMask[y * Width + x];
    }
}
