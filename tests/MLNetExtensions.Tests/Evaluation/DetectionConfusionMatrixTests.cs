using Microsoft.ML;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>The detection confusion matrix (IoU 0.5, background row and column) on a hand-made case with known counts.</summary>
[TestClass]
public sealed class DetectionConfusionMatrixTests
{
    private static IDataView Case(MLContext ml) => ScoredDetections.Create(ml, ["cat", "dog"],
    [
        // Cat A, dog B, dog C (difficult). Cat on A (0.9): cat→cat. Cat on B (0.8): dog→cat. Dog on A (0.7), A taken:
        // false alarm. Dog on C (0.6): matched to a difficult box, not counted. Dog elsewhere (0.3): below 0.5.
        new ScoredImage
        {
            ImageId = 1, Boxes = [0, 0, 9, 9, 20, 20, 29, 29, 40, 40, 49, 49], Labels = [1, 2, 2], Difficult = [false, false, true],
            PredictedBoxes = [0, 0, 9, 9, 20, 20, 29, 29, 1, 1, 9, 9, 40, 40, 49, 49, 60, 60, 69, 69],
            PredictedLabels = [1, 1, 2, 2, 2], Scores = [0.9f, 0.8f, 0.7f, 0.6f, 0.3f],
        },
        // Cats D and E. Dog over D with IoU 60/100 = 0.6 (inclusive pixels): cat→dog. E: missed.
        new ScoredImage
        {
            ImageId = 2, Boxes = [0, 0, 9, 9, 30, 30, 39, 39], Labels = [1, 1],
            PredictedBoxes = [0, 0, 9, 5], PredictedLabels = [2], Scores = [0.55f],
        },
    ]);

    private static long[][] Counts(DetectionMetrics m) => m.ConfusionMatrix.Counts.Select(r => r.ToArray()).ToArray();

    [TestMethod]
    public void AHandMadeCaseHasTheExpectedCounts()
    {
        var ml = new MLContext(1);
        var metrics = ml.Detection().Evaluate(Case(ml));
        var matrix = metrics.ConfusionMatrix;
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, matrix.ClassNames.ToArray());
        Assert.AreEqual(2, matrix.Background);
        Assert.AreEqual(0.5, matrix.IouThreshold);
        Assert.AreEqual(0.5, matrix.ScoreThreshold);
        var counts = Counts(metrics);
        //                  cat  dog  background (predicted)
        CollectionAssert.AreEqual(new long[] { 1, 1, 1 }, counts[0], "cat objects: one found as cat, one as dog, one missed");
        CollectionAssert.AreEqual(new long[] { 1, 0, 0 }, counts[1], "dog objects: one found as cat; the difficult one is not counted");
        CollectionAssert.AreEqual(new long[] { 0, 1, 0 }, counts[2], "false alarms: one dog");
    }

    [TestMethod]
    public void TheThresholdsAreTheOptions()
    {
        var ml = new MLContext(1);
        var low = ml.Detection().Evaluate(Case(ml), new DetectionEvaluatorOptions { ConfusionMatrixScoreThreshold = 0.2 });
        CollectionAssert.AreEqual(new long[] { 0, 2, 0 }, Counts(low)[2], "the 0.3 dog counts as a second false alarm");
        // At IoU > 0.65 the 0.6-IoU dog over D no longer finds it: D is missed and the dog is a false alarm.
        var strict = ml.Detection().Evaluate(Case(ml), new DetectionEvaluatorOptions { VocIouThreshold = 0.65 });
        CollectionAssert.AreEqual(new long[] { 1, 0, 2 }, Counts(strict)[0]);
        CollectionAssert.AreEqual(new long[] { 0, 2, 0 }, Counts(strict)[2]);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionEvaluatorOptions { ConfusionMatrixScoreThreshold = 1.5 });
        StringAssert.StartsWith(e.Message, "The confusion matrix's score threshold must be in [0, 1].");
    }
}
