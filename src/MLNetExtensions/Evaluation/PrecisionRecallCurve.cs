namespace MLNetExtensions.Evaluation;

/// <summary>
/// One class's precision–recall curve as the VOC metrics compute it (see <see cref="VocMetrics"/>): the class's
/// detections of all images ranked by score, matched as <c>voc_eval.py</c> does at <see cref="IouThreshold"/>, and
/// after each one the recall and precision so far. The area under its precision envelope is the VOC2010+ all-point
/// AP (<see cref="AveragePrecision"/>); VOC2007's 11-point AP samples the same points.
/// </summary>
public sealed class PrecisionRecallCurve
{
    internal PrecisionRecallCurve(string className, double iouThreshold, int groundTruthCount, double[] recall, double[] precision, float[] scores, double averagePrecision)
    {
        ClassName = className;
        IouThreshold = iouThreshold;
        GroundTruthCount = groundTruthCount;
        Recall = recall;
        Precision = precision;
        Scores = scores;
        AveragePrecision = averagePrecision;
    }

    /// <summary>The class.</summary>
    public string ClassName { get; }

    /// <summary>The IoU a detection had to exceed to hit a ground-truth box.</summary>
    public double IouThreshold { get; }

    /// <summary>Ground-truth boxes of the class that count (not difficult): the denominator of recall.</summary>
    public int GroundTruthCount { get; }

    /// <summary>Recall after each detection, highest score first; NaN when <see cref="GroundTruthCount"/> is 0.</summary>
    public IReadOnlyList<double> Recall { get; }

    /// <summary>Precision after each detection, highest score first.</summary>
    public IReadOnlyList<double> Precision { get; }

    /// <summary>The detections' scores, falling: point <c>i</c> is the curve at score threshold <c>Scores[i]</c>.</summary>
    public IReadOnlyList<float> Scores { get; }

    /// <summary>The VOC2010+ all-point AP of this curve, as in <see cref="VocMetrics.PerClassAveragePrecision"/> of <see cref="DetectionMetrics.Voc"/>.</summary>
    public double AveragePrecision { get; }
}
