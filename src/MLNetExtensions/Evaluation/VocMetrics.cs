namespace MLNetExtensions.Evaluation;

/// <summary>
/// Pascal VOC average precision per class and its mean, as the VOC devkit's <c>voc_eval.py</c> computes it:
/// the 11-point AP of VOC2007 or the all-point AP of VOC2010 and later (see <see cref="DetectionMetrics"/>).
/// </summary>
public sealed class VocMetrics
{
    internal VocMetrics(bool elevenPoint, double iouThreshold, double[] perClass, PrecisionRecallCurve[] curves)
    {
        PrecisionRecallCurves = curves;
        IsElevenPoint = elevenPoint;
        IouThreshold = iouThreshold;
        PerClassAveragePrecision = perClass;
        var counted = perClass.Where(ap => !double.IsNaN(ap)).ToArray();
        MeanAveragePrecision = counted.Length == 0 ? double.NaN : counted.Average();
    }

    /// <summary>True for VOC2007's 11-point interpolation, false for the all-point area of VOC2010+.</summary>
    public bool IsElevenPoint { get; }

    /// <summary>The IoU a detection had to exceed to hit a ground-truth box.</summary>
    public double IouThreshold { get; }

    /// <summary>AP per class, in class-key order. NaN for a class with no non-difficult ground-truth box
    /// (it has no recall; voc_eval divides by zero there).</summary>
    public IReadOnlyList<double> PerClassAveragePrecision { get; }

    /// <summary>
    /// Per class, in class-key order, the precision–recall curve these APs are computed from (the same curves for
    /// VOC2007 and VOC2010+: only the interpolation differs). Draw them with the visualization package's <c>PrecisionRecallChart</c>.
    /// </summary>
    public IReadOnlyList<PrecisionRecallCurve> PrecisionRecallCurves { get; }

    /// <summary>The mean of <see cref="PerClassAveragePrecision"/> over the classes that are not NaN.</summary>
    public double MeanAveragePrecision { get; }
}
