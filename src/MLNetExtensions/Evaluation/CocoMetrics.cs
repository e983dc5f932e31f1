namespace MLNetExtensions.Evaluation;

/// <summary>
/// COCO box metrics as pycocotools' <c>COCOeval.summarize()</c> prints them. AP is averaged over IoU thresholds
/// 0.50:0.05:0.95 and 101 recall points; AR over the IoU thresholds; both over the classes that have ground truth.
/// Small, medium and large objects have areas up to 32², up to 96² and above 96² pixels. A figure is -1 when no
/// class has ground truth in its area range, as in pycocotools.
/// </summary>
public sealed class CocoMetrics
{
    internal CocoMetrics(double[] stats, double[] perClass)
    {
        Stats = stats;
        PerClassAveragePrecision = perClass;
    }

    /// <summary>The twelve figures in pycocotools' order (its <c>stats</c>): AP, AP50, AP75, APsmall, APmedium,
    /// APlarge, AR1, AR10, AR100, ARsmall, ARmedium, ARlarge.</summary>
    public IReadOnlyList<double> Stats { get; }

    /// <summary>AP @ IoU 0.50:0.95, all areas, 100 detections per image: COCO's main figure (often called mAP).</summary>
    public double AveragePrecision => Stats[0];
    /// <summary>AP @ IoU 0.50, all areas, 100 detections.</summary>
    public double AveragePrecision50 => Stats[1];
    /// <summary>AP @ IoU 0.75, all areas, 100 detections.</summary>
    public double AveragePrecision75 => Stats[2];
    /// <summary>AP of small objects (area ≤ 32²).</summary>
    public double AveragePrecisionSmall => Stats[3];
    /// <summary>AP of medium objects (32² ≤ area ≤ 96²).</summary>
    public double AveragePrecisionMedium => Stats[4];
    /// <summary>AP of large objects (area ≥ 96²).</summary>
    public double AveragePrecisionLarge => Stats[5];
    /// <summary>AR with 1 detection per image.</summary>
    public double AverageRecall1 => Stats[6];
    /// <summary>AR with 10 detections per image.</summary>
    public double AverageRecall10 => Stats[7];
    /// <summary>AR with 100 detections per image.</summary>
    public double AverageRecall100 => Stats[8];
    /// <summary>AR of small objects, 100 detections.</summary>
    public double AverageRecallSmall => Stats[9];
    /// <summary>AR of medium objects, 100 detections.</summary>
    public double AverageRecallMedium => Stats[10];
    /// <summary>AR of large objects, 100 detections.</summary>
    public double AverageRecallLarge => Stats[11];

    /// <summary>AP @ IoU 0.50:0.95 per class, in class-key order; -1 for a class with no (non-crowd) ground truth,
    /// which <see cref="AveragePrecision"/> leaves out.</summary>
    public IReadOnlyList<double> PerClassAveragePrecision { get; }
}
