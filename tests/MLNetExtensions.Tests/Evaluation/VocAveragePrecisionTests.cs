using Microsoft.ML;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>VOC AP cases computed by hand, following voc_eval.py (boxes are inclusive pixel ranges: +1 in sizes).</summary>
[TestClass]
public sealed class VocAveragePrecisionTests
{
    private static readonly string[] Classes = ["cat", "dog", "bird", "fish"];
    private const uint Cat = 1, Dog = 2, Bird = 3, Fish = 4;

    private static ScoredImage Image(long id, float[] boxes, uint[] labels, float[] predicted, uint[] predictedLabels, float[] scores, bool[]? difficult = null)
        => new()
        {
            ImageId = id, Boxes = boxes, Labels = labels, Difficult = difficult ?? new bool[labels.Length],
            IsCrowd = new bool[labels.Length], Areas = [], PredictedBoxes = predicted, PredictedLabels = predictedLabels, Scores = scores,
        };

    private static DetectionMetrics Evaluate(params ScoredImage[] images)
    {
        var ml = new MLContext(1);
        var data = ScoredDetections.Without(ml, ScoredDetections.Create(ml, Classes, images), "Areas");
        return ml.Detection().Evaluate(data);
    }

    [TestMethod]
    public void DuplicatesAreFalsePositivesAndBothInterpolationsAreExact()
    {
        // cat: 3 ground-truth boxes. By score: 0.9 hits A, 0.8 hits A again (duplicate: FP), 0.75 hits C, 0.7 misses.
        // recall 1/3, 1/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2.
        // all-point: 1/3 · 1 + 1/3 · 2/3 = 5/9. 11-point: t = 0 .. 0.3 → 1 (4 points), t = 0.4 .. 0.6 → 2/3 (3 points): 6/11.
        var m = Evaluate(
            Image(1, [0, 0, 9, 9, 20, 20, 29, 29], [Cat, Cat], [0, 0, 9, 9, 0, 0, 9, 9], [Cat, Cat], [0.9f, 0.8f]),
            Image(2, [0, 0, 9, 9], [Cat], [50, 50, 59, 59, 0, 0, 9, 9], [Cat, Cat], [0.7f, 0.75f]));
        Assert.AreEqual(5.0 / 9, m.Voc.PerClassAveragePrecision[0], 1e-12);
        Assert.AreEqual(6.0 / 11, m.Voc2007.PerClassAveragePrecision[0], 1e-12);
        Assert.IsFalse(m.Voc.IsElevenPoint);
        Assert.IsTrue(m.Voc2007.IsElevenPoint);
    }

    [TestMethod]
    public void DifficultBoxesAreNeitherHitsNorMissesNorPositives()
    {
        // dog: D1 and D3 count, D2 is difficult. By score: 0.9 on D2 (nothing), 0.8 hits D1, 0.7 misses, 0.6 on D2 again (nothing).
        // 2 positives: recall 0, 1/2, 1/2, 1/2; precision 0, 1, 1/2, 1/2. all-point 1/2 · 1 = 1/2; 11-point: t ≤ 0.5 → 1: 6/11.
        var m = Evaluate(Image(3,
            [0, 0, 9, 9, 100, 100, 109, 109, 300, 300, 309, 309], [Dog, Dog, Dog],
            [100, 100, 109, 109, 0, 0, 9, 9, 200, 200, 209, 209, 100, 100, 109, 109], [Dog, Dog, Dog, Dog], [0.9f, 0.8f, 0.7f, 0.6f],
            difficult: [false, true, false]));
        Assert.AreEqual(0.5, m.Voc.PerClassAveragePrecision[1], 1e-12);
        Assert.AreEqual(6.0 / 11, m.Voc2007.PerClassAveragePrecision[1], 1e-12);

        // Without the flags, D2 is a positive the 0.9 detection hits: recall 1/3, 2/3, 2/3, 2/3; precision 1, 1, 2/3, 1/2.
        var ml = new MLContext(1);
        var data = ScoredDetections.Create(ml, Classes, [Image(3,
            [0, 0, 9, 9, 100, 100, 109, 109, 300, 300, 309, 309], [Dog, Dog, Dog],
            [100, 100, 109, 109, 0, 0, 9, 9, 200, 200, 209, 209, 100, 100, 109, 109], [Dog, Dog, Dog, Dog], [0.9f, 0.8f, 0.7f, 0.6f],
            difficult: [false, true, false])]);
        var plain = ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { DifficultColumnName = null });
        Assert.AreEqual(2.0 / 3, plain.Voc.PerClassAveragePrecision[1], 1e-12);
    }

    [TestMethod]
    public void IouUsesPlusOneSizesAndMustExceedTheThreshold()
    {
        // bird: [0,0,5,8] on [0,0,9,9] is 6·9 / 10·10 = 0.54 with +1 sizes (0.49 without): a hit.
        // [0,0,4,9] on [0,0,9,9] is 5·10 / 10·10 = 0.5 exactly: not above 0.5, a miss.
        // recall 1/2, 1/2; precision 1, 1/2: all-point 1/2, 11-point 6/11.
        var m = Evaluate(
            Image(4, [0, 0, 9, 9], [Bird], [0, 0, 5, 8], [Bird], [0.9f]),
            Image(5, [0, 0, 9, 9], [Bird], [0, 0, 4, 9], [Bird], [0.8f]));
        Assert.AreEqual(0.5, m.Voc.PerClassAveragePrecision[2], 1e-12);
        Assert.AreEqual(6.0 / 11, m.Voc2007.PerClassAveragePrecision[2], 1e-12);
    }

    [TestMethod]
    public void ClassesWithoutPositivesAreNaNAndLeftOutOfTheMean()
    {
        var m = Evaluate(
            Image(1, [0, 0, 9, 9, 20, 20, 29, 29], [Cat, Cat], [0, 0, 9, 9, 0, 0, 9, 9], [Cat, Cat], [0.9f, 0.8f]),
            Image(2, [0, 0, 9, 9], [Cat], [50, 50, 59, 59, 0, 0, 9, 9, 0, 0, 9, 9], [Cat, Cat, Fish], [0.7f, 0.75f, 0.99f]),
            Image(4, [0, 0, 9, 9], [Bird], [0, 0, 5, 8], [Bird], [0.9f]),
            Image(5, [0, 0, 9, 9], [Bird], [0, 0, 4, 9], [Bird], [0.8f]));
        Assert.IsTrue(double.IsNaN(m.Voc.PerClassAveragePrecision[1])); // dog: nothing at all
        Assert.IsTrue(double.IsNaN(m.Voc.PerClassAveragePrecision[3])); // fish: a detection but no ground truth
        Assert.AreEqual((5.0 / 9 + 0.5) / 2, m.Voc.MeanAveragePrecision, 1e-12);
        Assert.AreEqual((6.0 / 11 + 6.0 / 11) / 2, m.Voc2007.MeanAveragePrecision, 1e-12);
        Assert.AreEqual(0, m.GroundTruthCounts[3]);
        Assert.AreEqual(1, m.DetectionCounts[3]);
    }

    [TestMethod]
    public void AClassWithGroundTruthButNoDetectionsHasApZero()
    {
        var m = Evaluate(Image(1, [0, 0, 9, 9], [Cat], [], [], []));
        Assert.AreEqual(0.0, m.Voc.PerClassAveragePrecision[0]);
        Assert.AreEqual(0.0, m.Voc2007.PerClassAveragePrecision[0]);
        Assert.AreEqual(0.0, m.Coco.PerClassAveragePrecision[0]);
    }

    [TestMethod]
    public void ElevenPointThresholdsAreNumpysArangeValues()
    {
        // Recall reaches exactly 0.3, which is below numpy's 0.30000000000000004: that point gets the next precision.
        double[] recall = [0.1, 0.2, 0.3, 0.3];
        double[] precision = [1, 1, 1, 0.5];
        // t = 0, 0.1, 0.2 → 1; t = 0.30000000000000004 and above → nothing (0).
        Assert.AreEqual(3.0 / 11, VocEvaluation.ElevenPointAp(recall, precision), 1e-15);
        Assert.AreEqual(0.3, VocEvaluation.AllPointAp(recall, precision), 1e-15);
    }
}
