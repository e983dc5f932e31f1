using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// The input row of a detector or segmenter: one image file. Use it with
/// <c>mlContext.Model.CreatePredictionEngine&lt;ImageInput, DetectionPrediction&gt;(model)</c> (or
/// <see cref="SegmentationPrediction"/>) and <c>mlContext.Data.LoadFromEnumerable</c>.
/// </summary>
public class ImageInput
{
    /// <summary>The image file (any format ML.NET's <c>LoadImages</c> reads); the column the models read by default.</summary>
    [ColumnName(DetectionColumns.ImagePath)]
    public string ImagePath { get; set; } = "";
}
