using MLNetExtensions.Boxes;
using MLNetExtensions.Data;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class NonMaxSuppressionTests
{
    // 16 boxes with overlapping clusters, equal scores (0 and 9 are the same box with the same score) and classes.
    private static readonly float[] Boxes =
    [
        10, 10, 50, 50, 12, 12, 52, 52, 30, 30, 70, 70, 100, 100, 140, 160, 102, 98, 141, 158,
        0, 0, 20, 20, 5, 5, 25, 25, 200, 10, 240, 60, 205, 12, 245, 58, 10, 10, 50, 50,
        60, 60, 65, 65, 61, 61, 66, 66, 0, 100, 30, 130, 2, 102, 31, 131, 150, 150, 151, 151, 10, 11, 50, 49,
    ];
    private static readonly float[] Scores = [0.9f, 0.85f, 0.7f, 0.6f, 0.6f, 0.5f, 0.5f, 0.95f, 0.3f, 0.9f, 0.2f, 0.2f, 0.4f, 0.45f, 0.1f, 0.88f];
    private static readonly int[] Classes = [0, 0, 0, 1, 1, 0, 0, 2, 2, 1, 3, 3, 1, 1, 0, 0];

    [TestMethod]
    public void MatchesTorchvisionNmsAndBatchedNms()
    {
        // torchvision 0.14 ops.nms / ops.batched_nms on these boxes (computed once with python3-torchvision).
        CollectionAssert.AreEqual(new[] { 7, 0, 2, 3, 5, 6, 13, 10, 11, 14 }, NonMaxSuppression.Apply(Boxes, Scores, 0.5f));
        CollectionAssert.AreEqual(new[] { 7, 0, 2, 3, 5, 13, 10, 14 }, NonMaxSuppression.Apply(Boxes, Scores, 0.3f));
        CollectionAssert.AreEqual(new[] { 7, 0, 9, 2, 3, 5, 6, 13, 10, 11, 14 }, NonMaxSuppression.ApplyClassAware(Boxes, Scores, Classes, 0.5f));
    }

    [TestMethod]
    public void KeepsTheHigherScoredOfTwoOverlappingBoxesInScoreOrder()
    {
        float[] boxes = [0, 0, 10, 10, 1, 1, 11, 11, 50, 50, 60, 60];
        CollectionAssert.AreEqual(new[] { 1, 2 }, NonMaxSuppression.Apply(boxes, [0.6f, 0.8f, 0.7f], 0.5f));
        CollectionAssert.AreEqual(new[] { 1, 2, 0 }, NonMaxSuppression.Apply(boxes, [0.6f, 0.8f, 0.7f], 0.9f), "IoU 0.68 is below 0.9");
    }

    [TestMethod]
    public void IouEqualToTheThresholdDoesNotSuppress()
    {
        float[] boxes = [0, 0, 3, 1, 1, 0, 4, 1]; // IoU exactly 0.5
        CollectionAssert.AreEqual(new[] { 0, 1 }, NonMaxSuppression.Apply(boxes, [0.9f, 0.8f], 0.5f));
        CollectionAssert.AreEqual(new[] { 0 }, NonMaxSuppression.Apply(boxes, [0.9f, 0.8f], 0.49f));
    }

    [TestMethod]
    public void EqualScoresAreVisitedInIndexOrder()
    {
        float[] identical = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1];
        CollectionAssert.AreEqual(new[] { 0 }, NonMaxSuppression.Apply(identical, [0.5f, 0.5f, 0.5f], 0.5f));
        CollectionAssert.AreEqual(new[] { 1 }, NonMaxSuppression.Apply(identical, [0.5f, 0.7f, 0.7f], 0.5f));
        float[] apart = [0, 0, 1, 1, 10, 0, 11, 1, 20, 0, 21, 1, 30, 0, 31, 1];
        CollectionAssert.AreEqual(new[] { 1, 0, 2, 3 }, NonMaxSuppression.Apply(apart, [0.5f, 0.9f, 0.5f, 0.5f], 0.5f));
        CollectionAssert.AreEqual(new[] { 0, 1 }, NonMaxSuppression.Apply(apart.AsSpan(0, 8), [-0f, 0f], 0.5f), "-0 and +0 tie");
    }

    [TestMethod]
    public void ScoreThresholdIsStrictAndNaNScoresAreDropped()
    {
        float[] apart = [0, 0, 1, 1, 10, 0, 11, 1, 20, 0, 21, 1, 30, 0, 31, 1];
        float[] scores = [0.3f, float.NaN, 0.31f, float.NegativeInfinity];
        CollectionAssert.AreEqual(new[] { 2 }, NonMaxSuppression.Apply(apart, scores, new NmsOptions(scoreThreshold: 0.3f)));
        CollectionAssert.AreEqual(new[] { 2, 0, 3 }, NonMaxSuppression.Apply(apart, scores, 0.5f));
    }

    [TestMethod]
    public void MaxOutputKeepsTheBestOnes()
    {
        CollectionAssert.AreEqual(new[] { 7, 0, 2 }, NonMaxSuppression.Apply(Boxes, Scores, new NmsOptions(0.5f, maxPerClass: 3)));
        CollectionAssert.AreEqual(new[] { 7, 0 }, NonMaxSuppression.Apply(Boxes, Scores, new NmsOptions(0.5f, maxPerClass: 3, maxTotal: 2)));
        Assert.AreEqual(0, NonMaxSuppression.Apply(Boxes, Scores, new NmsOptions(0.5f, maxTotal: 0)).Length);
    }

    [TestMethod]
    public void BoxesOfDifferentClassesNeverSuppressEachOther()
    {
        float[] same = [0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10];
        CollectionAssert.AreEqual(new[] { 2, 1 }, NonMaxSuppression.ApplyClassAware(same, [0.5f, 0.6f, 0.7f], [3, 3, -100], 0.5f));
        CollectionAssert.AreEqual(new[] { 1, 0, 2 }, NonMaxSuppression.ApplyClassAware(same, [0.5f, 0.6f, 0.5f], [int.MaxValue, int.MinValue, 0], 0.5f));
    }

    [TestMethod]
    public void ClassAwareLimitsApplyPerClassThenInTotal()
    {
        // Per class at most one: class 0 → 0, class 1 → 9, class 2 → 7, class 3 → 10; then the best three overall.
        CollectionAssert.AreEqual(new[] { 7, 0, 9, 10 }, NonMaxSuppression.ApplyClassAware(Boxes, Scores, Classes, new NmsOptions(0.5f, maxPerClass: 1)));
        CollectionAssert.AreEqual(new[] { 7, 0, 9 }, NonMaxSuppression.ApplyClassAware(Boxes, Scores, Classes, new NmsOptions(0.5f, maxPerClass: 1, maxTotal: 3)));
        CollectionAssert.AreEqual(new[] { 7, 0, 9, 2 }, NonMaxSuppression.ApplyClassAware(Boxes, Scores, Classes, new NmsOptions(0.5f, scoreThreshold: 0.6f)));
    }

    [TestMethod]
    public void AgreesWithANaiveImplementationOnRandomBoxesWithManyTies()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 30; trial++)
        {
            int n = 1 + random.Next(300);
            var boxes = BoxCoderTests.RandomBoxes(random, n, extent: 200f);
            var scores = Enumerable.Range(0, n).Select(_ => random.Next(20) / 20f).ToArray(); // coarse scores: many ties
            var classes = Enumerable.Range(0, n).Select(_ => random.Next(4)).ToArray();
            float iou = random.NextSingle();
            var expected = NaiveNms(boxes, scores, Enumerable.Repeat(0, n).ToArray(), iou);
            CollectionAssert.AreEqual(expected, NonMaxSuppression.Apply(boxes, scores, iou), $"trial {trial}");
            CollectionAssert.AreEqual(NaiveNms(boxes, scores, classes, iou), NonMaxSuppression.ApplyClassAware(boxes, scores, classes, iou), $"trial {trial} class-aware");
        }
    }

    [TestMethod]
    public void BoundingBoxOverloadsGiveTheSameAnswer()
    {
        var boxes = BoxOps.ToBoxes(Boxes);
        CollectionAssert.AreEqual(NonMaxSuppression.Apply(Boxes, Scores, 0.5f), NonMaxSuppression.Apply(boxes, Scores, 0.5f));
        CollectionAssert.AreEqual(NonMaxSuppression.ApplyClassAware(Boxes, Scores, Classes, 0.5f),
            NonMaxSuppression.ApplyClassAware(boxes.AsSpan(), Scores, Classes, new NmsOptions(0.5f)));
    }

    [TestMethod]
    public void EmptyInputGivesNothing()
    {
        Assert.AreEqual(0, NonMaxSuppression.Apply(ReadOnlySpan<float>.Empty, [], 0.5f).Length);
        Assert.AreEqual(0, NonMaxSuppression.ApplyClassAware(ReadOnlySpan<float>.Empty, [], [], 0.5f).Length);
    }

    [TestMethod]
    public void BadInputIsRejectedWithAMessage()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => NonMaxSuppression.Apply([0f, 0, 1, 1], [0.5f, 0.6f], 0.5f));
        StringAssert.StartsWith(ex.Message, "'scores' has 2 values; expected 1 (one score per box).");
        ex = Assert.ThrowsExactly<ArgumentException>(() => NonMaxSuppression.ApplyClassAware([0f, 0, 1, 1], [0.5f], [], 0.5f));
        StringAssert.StartsWith(ex.Message, "'classes' has 0 values; expected 1 (one class per box).");
        var range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new NmsOptions(1.5f));
        StringAssert.StartsWith(range.Message, "The IoU threshold must be in [0, 1].");
        range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new NmsOptions(maxPerClass: -1));
        StringAssert.StartsWith(range.Message, "The number of boxes kept per class must be >= 0.");
    }

    [TestMethod]
    public void OnnxEntryPointValidatesItsArguments()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NonMaxSuppression.ApplyOnnx([0f, 0, 1, 1], [1f], 1, 1, 1, 0.5f, centerPointBox: 2));
        StringAssert.StartsWith(ex.Message, "center_point_box must be 0 ([y1, x1, y2, x2]) or 1 ([x_center, y_center, width, height]).");
        var shape = Assert.ThrowsExactly<ArgumentException>(() => NonMaxSuppression.ApplyOnnx([0f, 0, 1, 1], [1f, 2f], 1, 1, 1, 0.5f));
        StringAssert.StartsWith(shape.Message, "'scores' has 2 values; expected 1 ((num_batches=1, num_classes=1, num_boxes=1)).");
        Assert.AreEqual(0, NonMaxSuppression.ApplyOnnx([0f, 0, 1, 1], [1f], 1, 1).Length, "max_output_boxes_per_class defaults to 0: no output");
    }

    /// <summary>torchvision's formulation: sort by (score desc, index asc), then each kept box removes every later one with IoU above the threshold.</summary>
    private static int[] NaiveNms(float[] boxes, float[] scores, int[] classes, float threshold)
    {
        int n = scores.Length;
        var order = Enumerable.Range(0, n).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var removed = new bool[n];
        var keep = new List<int>();
        foreach (int i in order)
        {
            if (removed[i]) continue;
            keep.Add(i);
            var a = new BoundingBox(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]);
            foreach (int j in order)
            {
                if (classes[j] != classes[i] || j == i) continue;
                var b = new BoundingBox(boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2], boxes[4 * j + 3]);
                float inter = Math.Max(0, Math.Min(a.XMax, b.XMax) - Math.Max(a.XMin, b.XMin)) * Math.Max(0, Math.Min(a.YMax, b.YMax) - Math.Max(a.YMin, b.YMin));
                if (inter / (a.Area + b.Area - inter) > threshold) removed[j] = true;
            }
        }
        return keep.ToArray();
    }
}
