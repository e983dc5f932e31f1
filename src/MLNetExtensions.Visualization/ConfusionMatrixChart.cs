using System.Globalization;
using MLNetExtensions.Evaluation;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace MLNetExtensions.Visualization;

/// <summary>
/// Confusion matrices as PNG heat maps: ground truth down, prediction across, each cell shaded by its share of its
/// row (so small classes read as well as large ones) and labelled with its count (detection) or row percentage
/// (segmentation, whose counts are pixels).
/// </summary>
public static class ConfusionMatrixChart
{
    /// <summary>The detection matrix with its background row (false alarms) and column (misses).</summary>
    public static byte[] Png(DetectionConfusionMatrix matrix, int width = 640, int height = 560)
        => ChartPng.Export(Build(matrix), width, height);

    /// <summary>The segmentation matrix of pixels.</summary>
    public static byte[] Png(SegmentationMetrics metrics, int width = 640, int height = 560)
        => ChartPng.Export(Build(metrics), width, height);

    internal static PlotModel Build(DetectionConfusionMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var names = matrix.ClassNames.Append("background").ToArray();
        var counts = matrix.Counts.Select(r => r.ToArray()).ToArray();
        var ic = CultureInfo.InvariantCulture;
        return Build(names, counts, c => c.ToString(ic), "Detection confusion matrix",
            $"IoU > {matrix.IouThreshold.ToString(ic)}, score ≥ {matrix.ScoreThreshold.ToString(ic)}; shade: share of the row");
    }

    internal static PlotModel Build(SegmentationMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var counts = metrics.ConfusionMatrix.Select(r => r.ToArray()).ToArray();
        return Build(metrics.ClassNames.ToArray(), counts, null, "Segmentation confusion matrix", "pixels; cell: % of the row");
    }

    /// <summary>
    /// The heat map: cell (row t, column p) at x = p, y = t (row 0 at the top), shaded by counts[t][p] / row sum, with
    /// the text <paramref name="label"/>(count) or, when null, the row percentage.
    /// </summary>
    private static PlotModel Build(string[] names, long[][] counts, Func<long, string>? label, string title, string subtitle)
    {
        int n = names.Length;
        var model = new PlotModel { Title = title, Subtitle = subtitle, Background = OxyColors.White };
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Bottom, Title = "predicted", ItemsSource = names, Angle = names.Any(s => s.Length > 6) ? -35 : 0 });
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, Title = "ground truth", ItemsSource = names, StartPosition = 1, EndPosition = 0 });
        model.Axes.Add(new LinearColorAxis { Position = AxisPosition.Right, Minimum = 0, Maximum = 1, Palette = OxyPalette.Interpolate(100, OxyColors.White, OxyColor.FromRgb(8, 48, 107)), Title = "share of row" });
        var shares = new double[n, n];
        for (int t = 0; t < n; t++)
        {
            long total = counts[t].Sum();
            for (int p = 0; p < n; p++) shares[p, t] = total == 0 ? 0 : (double)counts[t][p] / total;
        }
        model.Series.Add(new HeatMapSeries
        {
            X0 = 0, X1 = n - 1, Y0 = 0, Y1 = n - 1, Data = shares,
            CoordinateDefinition = HeatMapCoordinateDefinition.Center, RenderMethod = HeatMapRenderMethod.Rectangles,
        });
        var ic = CultureInfo.InvariantCulture;
        for (int t = 0; t < n; t++)
            for (int p = 0; p < n; p++)
            {
                string text = label != null ? label(counts[t][p]) : (100 * shares[p, t]).ToString("0.0", ic) + "%";
                model.Annotations.Add(new TextAnnotation
                {
                    Text = text, TextPosition = new DataPoint(p, t), Stroke = OxyColors.Transparent,
                    TextHorizontalAlignment = HorizontalAlignment.Center, TextVerticalAlignment = VerticalAlignment.Middle,
                    TextColor = shares[p, t] > 0.5 ? OxyColors.White : OxyColors.Black,
                });
            }
        return model;
    }
}
