using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace MLNetExtensions.Visualization;

/// <summary>
/// Line charts of training curves (one panel per series, since classification and localisation losses have different
/// scales and one keeps improving after the other plateaus), as PNG or SVG.
/// </summary>
public static class TrainingChart
{
    /// <summary>A PNG chart of the named series against step, each smoothed by a moving average of <paramref name="smoothing"/> steps.</summary>
    public static byte[] Png(IReadOnlyDictionary<string, IReadOnlyList<double>> series, string title, int width = 900, int height = 320, int smoothing = 10)
    {
        return ChartPng.Export(Build(series, title, smoothing), width, height);
    }

    /// <summary>The same chart as SVG text.</summary>
    public static string Svg(IReadOnlyDictionary<string, IReadOnlyList<double>> series, string title, int width = 900, int height = 320, int smoothing = 10)
    {
        var model = Build(series, title, smoothing);
        using var stream = new MemoryStream();
        new SvgExporter { Width = width, Height = height }.Export(model, stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    internal static PlotModel Build(IReadOnlyDictionary<string, IReadOnlyList<double>> series, string title, int smoothing)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("At least one series is needed.", nameof(series));
        if (smoothing < 1) throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "Smoothing must be at least 1 step.");
        var model = new PlotModel { Title = title, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopRight });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "step" });
        int i = 0;
        foreach (var (name, values) in series)
        {
            // Each series on its own vertical axis, stacked, so their scales do not squash each other.
            double start = (double)i / series.Count, end = (double)(i + 1) / series.Count;
            string key = "y" + i;
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Key = key, Title = name, StartPosition = start, EndPosition = end - 0.04 });
            var line = new LineSeries { Title = name, YAxisKey = key, StrokeThickness = 1.5 };
            double sum = 0;
            for (int s = 0; s < values.Count; s++)
            {
                sum += values[s];
                if (s >= smoothing) sum -= values[s - smoothing];
                line.Points.Add(new DataPoint(s + 1, sum / Math.Min(s + 1, smoothing)));
            }
            model.Series.Add(line);
            i++;
        }
        return model;
    }
}
