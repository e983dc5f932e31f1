using Microsoft.ML;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Tests.Evaluation;
using MLNetExtensions.Visualization;
using OxyPlot.Annotations;
using OxyPlot.Series;
using SkiaSharp;

namespace MLNetExtensions.Tests.Visualization;

/// <summary>
/// PrecisionRecallChart and ConfusionMatrixChart: valid PNGs of the asked size, and the plotted data are the
/// evaluation's (curve points, AP in the legend, cell shares and labels).
/// </summary>
[TestClass]
public sealed class EvaluationChartTests
{
    private static DetectionMetrics Metrics(MLContext ml) => ml.Detection().Evaluate(ScoredDetections.Create(ml, ["cat", "dog", "bird"],
    [
        new ScoredImage { ImageId = 1, Boxes = [0, 0, 9, 9, 20, 20, 29, 29], Labels = [1, 2],
            PredictedBoxes = [0, 0, 9, 9, 20, 20, 29, 29, 50, 50, 59, 59], PredictedLabels = [1, 1, 2], Scores = [0.9f, 0.8f, 0.7f] },
        new ScoredImage { ImageId = 2, Boxes = [0, 0, 9, 9], Labels = [1], PredictedBoxes = [0, 0, 9, 9], PredictedLabels = [1], Scores = [0.6f] },
    ]));

    private static void AssertPng(byte[] png, int width, int height)
    {
        CollectionAssert.AreEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8], "PNG signature");
        using var bitmap = SKBitmap.Decode(png);
        Assert.IsNotNull(bitmap, "the PNG decodes");
        Assert.AreEqual((width, height), (bitmap.Width, bitmap.Height));
        Assert.IsGreaterThan(2000, png.Length, "something was drawn");
    }

    [TestMethod]
    public void ThePrecisionRecallChartPlotsEachCurve()
    {
        var metrics = Metrics(new MLContext(1));
        AssertPng(PrecisionRecallChart.Png(metrics, 500, 400), 500, 400);
        var model = PrecisionRecallChart.Build(metrics.Voc.PrecisionRecallCurves, "t");
        var lines = model.Series.Cast<LineSeries>().ToArray();
        Assert.HasCount(2, lines, "bird has no ground truth: no curve");
        CollectionAssert.AreEqual(new[] { "cat (AP 0.833)", "dog (AP 0.000)" }, lines.Select(l => l.Title).ToArray());
        var cat = metrics.Voc.PrecisionRecallCurves[0];
        CollectionAssert.AreEqual(cat.Recall.ToArray(), lines[0].Points.Select(p => p.X).ToArray());
        CollectionAssert.AreEqual(cat.Precision.ToArray(), lines[0].Points.Select(p => p.Y).ToArray());
        CollectionAssert.AreEqual(new[] { 0.5, 0.5, 1.0 }, lines[0].Points.Select(p => p.X).ToArray(), "cat: hit, miss (the box is a dog), hit; 2 boxes");
        CollectionAssert.AreEqual(new[] { 1.0, 0.5, 2 / 3.0 }, lines[0].Points.Select(p => p.Y).ToArray());
    }

    [TestMethod]
    public void TheDetectionConfusionChartShadesRowsAndLabelsCounts()
    {
        var metrics = Metrics(new MLContext(1));
        AssertPng(ConfusionMatrixChart.Png(metrics.ConfusionMatrix, 480, 420), 480, 420);
        var model = ConfusionMatrixChart.Build(metrics.ConfusionMatrix);
        var heat = model.Series.OfType<HeatMapSeries>().Single();
        Assert.AreEqual(4, heat.Data.GetLength(0), "3 classes and the background");
        var counts = metrics.ConfusionMatrix.Counts;
        for (int t = 0; t < 4; t++)
        {
            double total = counts[t].Sum();
            for (int p = 0; p < 4; p++)
                Assert.AreEqual(total == 0 ? 0 : counts[t][p] / total, heat.Data[p, t], 1e-12, $"cell ({t}, {p}): share of its row");
        }
        var labels = model.Annotations.OfType<TextAnnotation>().ToDictionary(a => ((int)a.TextPosition.Y, (int)a.TextPosition.X), a => a.Text);
        Assert.HasCount(16, labels);
        for (int t = 0; t < 4; t++)
            for (int p = 0; p < 4; p++)
                Assert.AreEqual(counts[t][p].ToString(System.Globalization.CultureInfo.InvariantCulture), labels[(t, p)]);
        CollectionAssert.AreEqual(new long[] { 2, 0, 0, 0 }, counts[0].ToArray(), "both cats found as cats");
        CollectionAssert.AreEqual(new long[] { 1, 0, 0, 0 }, counts[1].ToArray(), "the dog found as a cat");
        CollectionAssert.AreEqual(new long[] { 0, 1, 0, 0 }, counts[3].ToArray(), "the dog detection on nothing");
    }

    [TestMethod]
    public void TheSegmentationConfusionChartShowsRowPercentages()
    {
        var metrics = new SegmentationMetrics(["bg", "road"], new long[,] { { 30, 10 }, { 0, 60 } }, 1);
        AssertPng(ConfusionMatrixChart.Png(metrics, 400, 360), 400, 360);
        var model = ConfusionMatrixChart.Build(metrics);
        var heat = model.Series.OfType<HeatMapSeries>().Single();
        Assert.AreEqual(0.75, heat.Data[0, 0], 1e-12);
        Assert.AreEqual(0.25, heat.Data[1, 0], 1e-12);
        Assert.AreEqual(1.0, heat.Data[1, 1], 1e-12);
        var labels = model.Annotations.OfType<TextAnnotation>().ToDictionary(a => ((int)a.TextPosition.Y, (int)a.TextPosition.X), a => a.Text);
        Assert.AreEqual("75.0%", labels[(0, 0)]);
        Assert.AreEqual("25.0%", labels[(0, 1)]);
        Assert.AreEqual("0.0%", labels[(1, 0)]);
        Assert.AreEqual("100.0%", labels[(1, 1)]);
    }

    [TestMethod]
    public void ACurveSetWithoutGroundTruthIsRejected()
    {
        var ml = new MLContext(1);
        var metrics = ml.Detection().Evaluate(ScoredDetections.Create(ml, ["cat"], [new ScoredImage { ImageId = 1, PredictedBoxes = [0, 0, 1, 1], PredictedLabels = [1], Scores = [0.5f] }]));
        var e = Assert.ThrowsExactly<ArgumentException>(() => PrecisionRecallChart.Png(metrics));
        StringAssert.StartsWith(e.Message, "No class has ground truth, so there is no precision–recall curve to draw.");
    }
}
