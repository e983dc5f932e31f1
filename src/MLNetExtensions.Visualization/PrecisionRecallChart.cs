using System.Globalization;
using MLNetExtensions.Evaluation;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace MLNetExtensions.Visualization;

/// <summary>
/// The per-class precision–recall curves of a detection evaluation (VOC matching, <see cref="VocMetrics.PrecisionRecallCurves"/>),
/// one line per class with its AP in the legend, as PNG. Classes without ground truth have no recall and are left out.
/// </summary>
public static class PrecisionRecallChart
{
    /// <summary>A PNG of the curves of <c>metrics.Voc</c>.</summary>
    public static byte[] Png(DetectionMetrics metrics, int width = 700, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return ChartPng.Export(Build(metrics.Voc.PrecisionRecallCurves, "Precision–recall"), width, height);
    }

    /// <summary>A PNG of the given curves.</summary>
    public static byte[] Png(IReadOnlyList<PrecisionRecallCurve> curves, string title, int width = 700, int height = 500)
        => ChartPng.Export(Build(curves, title), width, height);

    internal static PlotModel Build(IReadOnlyList<PrecisionRecallCurve> curves, string title)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var drawn = curves.Where(c => c.GroundTruthCount > 0).ToArray();
        if (drawn.Length == 0)
            throw new ArgumentException("No class has ground truth, so there is no precision–recall curve to draw.", nameof(curves));
        double iou = drawn[0].IouThreshold;
        var model = new PlotModel { Title = title, Subtitle = $"VOC matching, IoU > {iou.ToString(CultureInfo.InvariantCulture)}", Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.BottomLeft, LegendBackground = OxyColor.FromAColor(200, OxyColors.White) });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "recall", Minimum = 0, Maximum = 1.0, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "precision", Minimum = 0, Maximum = 1.02, MajorGridlineStyle = LineStyle.Dot });
        foreach (var curve in drawn)
        {
            var line = new LineSeries { Title = $"{curve.ClassName} (AP {curve.AveragePrecision.ToString("0.000", CultureInfo.InvariantCulture)})", StrokeThickness = 1.8 };
            for (int i = 0; i < curve.Recall.Count; i++) line.Points.Add(new DataPoint(curve.Recall[i], curve.Precision[i]));
            model.Series.Add(line);
        }
        return model;
    }
}
