using Microsoft.ML;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Tests.Scoring;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>
/// The per-class precision–recall curves of the VOC metrics: the points of a hand-made case, and on a trained
/// detector's scores the area under each curve's precision envelope (computed here from the points) equals the
/// reported VOC AP, and the curve's 11-point sample the VOC2007 AP.
/// </summary>
[TestClass]
public sealed class PrecisionRecallCurveTests
{
    /// <summary>Σ over the points where recall rises of (rise) × (best precision at this recall or beyond).</summary>
    internal static double EnvelopeArea(PrecisionRecallCurve curve)
    {
        double area = 0, previous = 0;
        for (int k = 0; k < curve.Recall.Count; k++)
        {
            if (curve.Recall[k] <= previous) continue;
            double best = 0;
            for (int j = k; j < curve.Precision.Count; j++) best = Math.Max(best, curve.Precision[j]);
            area += (curve.Recall[k] - previous) * best;
            previous = curve.Recall[k];
        }
        return area;
    }

    [TestMethod]
    public void AHandMadeCaseHasTheExpectedPoints()
    {
        // Image 1: boxes A and B; a hit on A (0.9), a second hit on A (0.8: duplicate). Image 2: box C; a miss (0.7), a hit (0.6).
        var ml = new MLContext(1);
        var data = ScoredDetections.Create(ml, ["cat"],
        [
            new ScoredImage { ImageId = 1, Boxes = [0, 0, 9, 9, 20, 20, 29, 29], Labels = [1, 1],
                PredictedBoxes = [0, 0, 9, 9, 1, 0, 9, 9], PredictedLabels = [1, 1], Scores = [0.9f, 0.8f] },
            new ScoredImage { ImageId = 2, Boxes = [0, 0, 9, 9], Labels = [1],
                PredictedBoxes = [50, 50, 59, 59, 0, 0, 9, 9], PredictedLabels = [1, 1], Scores = [0.7f, 0.6f] },
        ]);
        var metrics = ml.Detection().Evaluate(data);
        var curve = metrics.Voc.PrecisionRecallCurves.Single();
        Assert.AreEqual("cat", curve.ClassName);
        Assert.AreEqual(3, curve.GroundTruthCount);
        Assert.AreEqual(0.5, curve.IouThreshold);
        CollectionAssert.AreEqual(new[] { 0.9f, 0.8f, 0.7f, 0.6f }, curve.Scores.ToArray());
        CollectionAssert.AreEqual(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0, 2 / 3.0 }, curve.Recall.ToArray());
        CollectionAssert.AreEqual(new[] { 1.0, 0.5, 1 / 3.0, 0.5 }, curve.Precision.ToArray());
        // Envelope: 1 up to recall 1/3, then 0.5 up to 2/3: AP = 1/3 + 1/6.
        Assert.AreEqual(0.5, metrics.Voc.PerClassAveragePrecision[0], 1e-15);
        Assert.AreEqual(0.5, curve.AveragePrecision, 1e-15);
        Assert.AreEqual(0.5, EnvelopeArea(curve), 1e-15);
        Assert.AreSame(metrics.Voc.PrecisionRecallCurves, metrics.Voc2007.PrecisionRecallCurves, "one set of curves for both interpolations");
    }

    [TestMethod]
    public void EachCurvesAreaIsTheReportedAp()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Ssd);
        var ml = new MLContext(1);
        var metrics = ml.Detection().Evaluate(detector.Transform(DetectorTrainingTests.Load(ml, "val")));
        Assert.HasCount(metrics.ClassNames.Count, metrics.Voc.PrecisionRecallCurves);
        int points = 0;
        for (int c = 0; c < metrics.ClassNames.Count; c++)
        {
            var curve = metrics.Voc.PrecisionRecallCurves[c];
            Assert.AreEqual(metrics.ClassNames[c], curve.ClassName);
            Assert.AreEqual(metrics.DetectionCounts[c], curve.Recall.Count, $"{curve.ClassName}: one point per detection");
            CollectionAssert.AreEqual(curve.Scores.OrderByDescending(s => s).ToArray(), curve.Scores.ToArray(), $"{curve.ClassName}: scores fall");
            if (curve.GroundTruthCount == 0) continue;
            Assert.AreEqual(metrics.Voc.PerClassAveragePrecision[c], EnvelopeArea(curve), 1e-12, $"{curve.ClassName}: area under the envelope = VOC AP");
            double elevenPoint = Enumerable.Range(0, 11).Select(i => Enumerable.Range(0, curve.Recall.Count)
                .Where(k => curve.Recall[k] >= i * 0.1).Select(k => curve.Precision[k]).DefaultIfEmpty(0).Max() / 11).Sum();
            Assert.AreEqual(metrics.Voc2007.PerClassAveragePrecision[c], elevenPoint, 1e-12, $"{curve.ClassName}: 11-point sample = VOC2007 AP");
            points += curve.Recall.Count;
        }
        Assert.IsGreaterThan(20, points, "enough points to mean something");
        Assert.IsTrue(metrics.Voc.PerClassAveragePrecision.Any(ap => ap > 0), "some class has a non-zero AP");
    }
}
