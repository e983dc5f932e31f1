using MLNetExtensions.Visualization;
using SkiaSharp;

namespace MLNetExtensions.Tests.Visualization;

[TestClass]
public sealed class TrainingChartTests
{
    // Line pixels are coloured; background, axes, grid and text are white, black or grey.
    private static bool IsLine(SKColor c) => Math.Max(c.Red, Math.Max(c.Green, c.Blue)) - Math.Min(c.Red, Math.Min(c.Green, c.Blue)) > 80;

    [TestMethod]
    public void AFallingLossIsDrawnHighOnTheLeftAndLowOnTheRight()
    {
        var falling = Enumerable.Range(0, 100).Select(i => 100.0 - i).ToArray();
        using var chart = SKBitmap.Decode(TrainingChart.Png(new Dictionary<string, IReadOnlyList<double>> { ["loss"] = falling }, "t", 400, 300, smoothing: 1));
        Assert.AreEqual((400, 300), (chart.Width, chart.Height));
        Assert.AreEqual(SKColors.White, chart.GetPixel(1, 1), "white background");
        var line = Enumerable.Range(0, 400).SelectMany(x => Enumerable.Range(0, 300).Select(y => (x, y))).Where(p => IsLine(chart.GetPixel(p.x, p.y))).ToList();
        Assert.IsGreaterThan(150, line.Count, "the line is drawn");
        int minX = line.Min(p => p.x), maxX = line.Max(p => p.x), span = maxX - minX;
        double leftY = line.Where(p => p.x < minX + span / 10).Average(p => p.y);
        double rightY = line.Where(p => p.x > maxX - span / 10).Average(p => p.y);
        Assert.IsLessThan(rightY - 100, leftY, "the start of the loss is drawn well above its end");
    }

    [TestMethod]
    public void EachSeriesGetsItsOwnPanel()
    {
        var series = new Dictionary<string, IReadOnlyList<double>>
        {
            ["classification"] = Enumerable.Range(0, 50).Select(i => 5.0 - 0.05 * i).ToArray(),
            ["localization"] = Enumerable.Range(0, 50).Select(i => 0.05 - 0.0005 * i).ToArray(),
        };
        using var chart = SKBitmap.Decode(TrainingChart.Png(series, "t", 400, 400, smoothing: 5));
        int upper = 0, lower = 0;
        for (int y = 0; y < 400; y++)
            for (int x = 0; x < 400; x++)
                if (IsLine(chart.GetPixel(x, y))) { if (y < 200) upper++; else lower++; }
        Assert.IsGreaterThan(50, upper, "one series in the upper panel");
        Assert.IsGreaterThan(50, lower, "the other in the lower panel, not squashed flat by the first one's scale");
    }

    [TestMethod]
    public void BadArgumentsAreRejected()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => TrainingChart.Png(new Dictionary<string, IReadOnlyList<double>>(), "t"));
        StringAssert.StartsWith(e.Message, "At least one series is needed.");
    }
}
