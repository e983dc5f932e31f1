using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A detector's output row, for <c>mlContext.Model.CreatePredictionEngine&lt;ImageInput, DetectionPrediction&gt;(model)</c>
/// and <c>mlContext.Data.CreateEnumerable&lt;DetectionPrediction&gt;(model.Transform(data))</c>, on a
/// <see cref="DetectionTransformer"/> or a model loaded with <c>mlContext.Model.Load</c>. Derive from it to read more
/// columns of the same rows (the image path, ground truth).
/// </summary>
/// <remarks>
/// Detection <c>i</c> is <c>PredictedBoxes[4i..4i+3]</c> (<c>[xmin, ymin, xmax, ymax]</c>, pixels of the original
/// image), <c>PredictedLabels[i]</c> and <c>Scores[i]</c>, best score first; <see cref="Detections"/> pairs them up.
/// </remarks>
public class DetectionPrediction
{
    /// <summary>N×4 box corners <c>[xmin, ymin, xmax, ymax]</c> in pixels of the original image.</summary>
    [ColumnName(DetectionColumns.PredictedBoxes)]
    public float[] PredictedBoxes { get; set; } = [];

    /// <summary>The class name of each box (the text of the key column <c>PredictedLabels</c>).</summary>
    [ColumnName(DetectionColumns.PredictedLabelNames)]
    public string[] PredictedLabels { get; set; } = [];

    /// <summary>The score of each box.</summary>
    [ColumnName(DetectionColumns.Scores)]
    public float[] Scores { get; set; } = [];

    /// <summary>The detections as records, in the order of the arrays (best score first).</summary>
    /// <exception cref="InvalidDataException">The arrays disagree in length.</exception>
    [NoColumn]
    public IReadOnlyList<DetectedObject> Detections
    {
        get
        {
            int n = PredictedLabels.Length;
            if (PredictedBoxes.Length != 4 * n || Scores.Length != n)
                throw new InvalidDataException($"The prediction has {PredictedBoxes.Length} box values, {n} labels and {Scores.Length} scores; expected 4 box values and one score per label.");
            var detections = new DetectedObject[n];
            for (int i = 0; i < n; i++)
                detections[i] = new DetectedObject(PredictedLabels[i], Scores[i],
                    PredictedBoxes[4 * i], PredictedBoxes[4 * i + 1], PredictedBoxes[4 * i + 2], PredictedBoxes[4 * i + 3]);
            return detections;
        }
    }
}
