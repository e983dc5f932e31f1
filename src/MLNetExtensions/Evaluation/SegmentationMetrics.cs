using System.Globalization;
using System.Text;

namespace MLNetExtensions.Evaluation;

/// <summary>
/// What <c>mlContext.Segmentation().Evaluate</c> measured over all pixels of all images together (not a mean of
/// per-image figures): the confusion matrix of valid pixels (ground truth not 255), pixel accuracy, IoU and
/// accuracy per class, and their means. <see cref="ToString"/> prints them as a table.
/// </summary>
public sealed class SegmentationMetrics
{
    internal SegmentationMetrics(string[] classNames, long[,] confusion, int imageCount)
    {
        int c = classNames.Length;
        ClassNames = classNames;
        ImageCount = imageCount;
        var rows = new long[c][];
        var iou = new double[c];
        var accuracy = new double[c];
        long total = 0, correct = 0;
        for (int i = 0; i < c; i++)
        {
            rows[i] = new long[c];
            long gt = 0, predicted = 0;
            for (int j = 0; j < c; j++)
            {
                rows[i][j] = confusion[i, j];
                gt += confusion[i, j];
                predicted += confusion[j, i];
            }
            long tp = confusion[i, i], union = gt + predicted - tp;
            iou[i] = union == 0 ? double.NaN : (double)tp / union;
            accuracy[i] = gt == 0 ? double.NaN : (double)tp / gt;
            total += gt;
            correct += tp;
        }
        ConfusionMatrix = rows;
        PixelCount = total;
        PixelAccuracy = total == 0 ? double.NaN : (double)correct / total;
        PerClassIoU = iou;
        PerClassAccuracy = accuracy;
        MeanIoU = NanMean(iou);
        MeanAccuracy = NanMean(accuracy);
    }

    /// <summary>Class names, index <c>i</c> for class <c>i</c> (the indices themselves when none were given).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The rows (images) evaluated.</summary>
    public int ImageCount { get; }

    /// <summary>Pixel counts: <c>ConfusionMatrix[t][p]</c> is the number of pixels of true class <c>t</c> predicted
    /// as <c>p</c>. Pixels whose ground truth is 255 are not counted.</summary>
    public IReadOnlyList<IReadOnlyList<long>> ConfusionMatrix { get; }

    /// <summary>Valid pixels: those whose ground truth is not 255.</summary>
    public long PixelCount { get; }

    /// <summary>Correct valid pixels over all valid pixels.</summary>
    public double PixelAccuracy { get; }

    /// <summary>Per class: TP / (TP + FP + FN); NaN for a class neither in the ground truth nor predicted.</summary>
    public IReadOnlyList<double> PerClassIoU { get; }

    /// <summary>
    /// The mean of <see cref="PerClassIoU"/> over the classes present in the ground truth or the prediction (the
    /// ones that are not NaN), as mmsegmentation's nanmean: a class absent from both has no IoU, and counting it as
    /// 0 or 1 would move the mean by something the model did not do.
    /// </summary>
    public double MeanIoU { get; }

    /// <summary>Per class: TP / (pixels of the class in the ground truth), the recall; NaN for a class not in the ground truth.</summary>
    public IReadOnlyList<double> PerClassAccuracy { get; }

    /// <summary>The mean of <see cref="PerClassAccuracy"/> over the classes present in the ground truth.</summary>
    public double MeanAccuracy { get; }

    /// <summary>A table: summary, then per class its ground-truth and predicted pixels, IoU and accuracy.</summary>
    public override string ToString()
    {
        var ic = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ic, $"Segmentation metrics: {ImageCount} images, {PixelCount} valid pixels, {ClassNames.Count} classes");
        sb.AppendLine(ic, $"pixel accuracy {Show(PixelAccuracy)}   mean IoU {Show(MeanIoU)}   mean accuracy {Show(MeanAccuracy)}");
        sb.AppendLine();
        int w = Math.Clamp(ClassNames.Max(n => n.Length), 5, 24);
        sb.AppendLine(ic, $"{"class".PadRight(w)} {"GT pixels",12} {"predicted",12} {"IoU",8} {"accuracy",8}");
        for (int i = 0; i < ClassNames.Count; i++)
        {
            long gt = ConfusionMatrix[i].Sum(), predicted = ConfusionMatrix.Sum(row => row[i]);
            string name = ClassNames[i].Length > w ? ClassNames[i][..(w - 1)] + "…" : ClassNames[i];
            sb.AppendLine(ic, $"{name.PadRight(w)} {gt,12} {predicted,12} {Show(PerClassIoU[i]),8} {Show(PerClassAccuracy[i]),8}");
        }
        sb.Append("('-': class absent; means leave such classes out)");
        return sb.ToString();
    }

    private static double NanMean(double[] values)
    {
        var present = values.Where(v => !double.IsNaN(v)).ToArray();
        return present.Length == 0 ? double.NaN : present.Average();
    }

    private static string Show(double v) => double.IsNaN(v) ? "-" : v.ToString("0.0000", CultureInfo.InvariantCulture);
}
