using System.Globalization;
using System.Text;

namespace MLNetExtensions.Evaluation;

/// <summary>
/// What <c>mlContext.Detection().Evaluate</c> measured: Pascal VOC AP (VOC2007 11-point and VOC2010+ all-point,
/// following <c>voc_eval.py</c>) and the COCO figures (following pycocotools' <c>COCOeval</c>), per class and
/// overall. <see cref="ToString"/> prints them as a table.
/// </summary>
public sealed class DetectionMetrics
{
    internal DetectionMetrics(string[] classNames, int imageCount, int[] groundTruthCounts, int[] detectionCounts,
        VocMetrics voc2007, VocMetrics voc, CocoMetrics coco, DetectionConfusionMatrix confusionMatrix)
    {
        ConfusionMatrix = confusionMatrix;
        ClassNames = classNames;
        ImageCount = imageCount;
        GroundTruthCounts = groundTruthCounts;
        DetectionCounts = detectionCounts;
        Voc2007 = voc2007;
        Voc = voc;
        Coco = coco;
    }

    /// <summary>The classes, in key order (key <c>i + 1</c> is <c>ClassNames[i]</c>); per-class lists follow it.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The rows (images) evaluated.</summary>
    public int ImageCount { get; }

    /// <summary>Ground-truth boxes per class, difficult and crowd ones included.</summary>
    public IReadOnlyList<int> GroundTruthCounts { get; }

    /// <summary>Detections per class, all of them (COCO uses at most 100 per image, the highest-scored).</summary>
    public IReadOnlyList<int> DetectionCounts { get; }

    /// <summary>VOC2007 AP: 11-point interpolated.</summary>
    public VocMetrics Voc2007 { get; }

    /// <summary>VOC2010+ AP: area under the whole precision envelope.</summary>
    public VocMetrics Voc { get; }

    /// <summary>The COCO figures.</summary>
    public CocoMetrics Coco { get; }

    /// <summary>
    /// Objects by detected class, with a background row (false alarms) and column (misses), at the VOC IoU threshold
    /// and <see cref="DetectionEvaluatorOptions.ConfusionMatrixScoreThreshold"/>; the matching rule is in its remarks.
    /// </summary>
    public DetectionConfusionMatrix ConfusionMatrix { get; }

    /// <summary>A table: the COCO summary in pycocotools' layout, then AP per class for VOC2007, VOC and COCO.</summary>
    public override string ToString()
    {
        var ic = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ic, $"Detection metrics: {ImageCount} images, {ClassNames.Count} classes, {GroundTruthCounts.Sum()} ground-truth boxes, {DetectionCounts.Sum()} detections");
        sb.AppendLine();
        sb.AppendLine("COCO (pycocotools bbox):");
        string[] kinds = ["Average Precision  (AP)", "Average Precision  (AP)", "Average Precision  (AP)", "Average Precision  (AP)",
            "Average Precision  (AP)", "Average Precision  (AP)", "Average Recall     (AR)", "Average Recall     (AR)",
            "Average Recall     (AR)", "Average Recall     (AR)", "Average Recall     (AR)", "Average Recall     (AR)"];
        string[] ious = ["0.50:0.95", "0.50     ", "0.75     ", "0.50:0.95", "0.50:0.95", "0.50:0.95",
            "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95"];
        string[] areas = ["all", "all", "all", "small", "medium", "large", "all", "all", "all", "small", "medium", "large"];
        int[] maxDets = [100, 100, 100, 100, 100, 100, 1, 10, 100, 100, 100, 100];
        for (int i = 0; i < 12; i++)
            sb.AppendLine(ic, $" {kinds[i]} @[ IoU={ious[i]} | area={areas[i],6} | maxDets={maxDets[i],3} ] = {Coco.Stats[i],6:0.000}");
        sb.AppendLine();

        int nameWidth = Math.Clamp(ClassNames.Max(n => n.Length), 5, 24);
        sb.AppendLine(ic, $"{"class".PadRight(nameWidth)} {"GT",7} {"dets",7} {"VOC07 AP",9} {"VOC AP",9} {"COCO AP",9}");
        for (int k = 0; k < ClassNames.Count; k++)
        {
            string name = ClassNames[k].Length > nameWidth ? ClassNames[k][..(nameWidth - 1)] + "…" : ClassNames[k];
            sb.AppendLine(ic, $"{name.PadRight(nameWidth)} {GroundTruthCounts[k],7} {DetectionCounts[k],7} {Show(Voc2007.PerClassAveragePrecision[k]),9} {Show(Voc.PerClassAveragePrecision[k]),9} {Show(Coco.PerClassAveragePrecision[k]),9}");
        }
        sb.AppendLine(ic, $"{"mean".PadRight(nameWidth)} {"",7} {"",7} {Show(Voc2007.MeanAveragePrecision),9} {Show(Voc.MeanAveragePrecision),9} {Show(Coco.AveragePrecision),9}");
        sb.Append(ic, $"(VOC: IoU > {Voc.IouThreshold}, difficult boxes ignored; '-': no ground truth to measure)");
        return sb.ToString();
    }

    private static string Show(double v) => double.IsNaN(v) || v < 0 ? "-" : v.ToString("0.0000", CultureInfo.InvariantCulture);
}
