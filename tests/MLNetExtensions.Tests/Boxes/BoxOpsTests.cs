using System.Runtime.CompilerServices;
using MLNetExtensions.Boxes;
using MLNetExtensions.Data;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class BoxOpsTests
{
    [TestMethod]
    public void AreaIsWidthTimesHeightWithoutPlusOneAndZeroWhenInverted()
    {
        Assert.AreEqual(6f, BoxOps.Area(new BoundingBox(1, 2, 4, 4)));
        Assert.AreEqual(0f, BoxOps.Area(new BoundingBox(4, 2, 1, 4)));
        Assert.AreEqual(0f, BoxOps.Area(new BoundingBox(1, 1, 1, 5)));
        var areas = new float[2];
        BoxOps.Areas([0, 0, 10, 20, 5, 5, 2, 9], areas);
        CollectionAssert.AreEqual(new[] { 200f, 0f }, areas);
    }

    [TestMethod]
    public void IouOfKnownPairs()
    {
        var a = new BoundingBox(0, 0, 2, 2);
        Assert.AreEqual(1f / 7f, BoxOps.Iou(a, new BoundingBox(1, 1, 3, 3)), 1e-7f, "overlap 1, union 4 + 4 - 1");
        Assert.AreEqual(1f, BoxOps.Iou(a, a));
        Assert.AreEqual(0.25f, BoxOps.Iou(new BoundingBox(0, 0, 4, 4), new BoundingBox(1, 1, 3, 3)), "contained: 4 / 16");
        Assert.AreEqual(0f, BoxOps.Iou(a, new BoundingBox(2, 0, 4, 2)), "sharing an edge is no overlap");
        Assert.AreEqual(0f, BoxOps.Iou(a, new BoundingBox(5, 5, 6, 6)));
        Assert.AreEqual(0f, BoxOps.Iou(new BoundingBox(1, 1, 1, 1), new BoundingBox(1, 1, 1, 1)), "two empty boxes: 0, not NaN");
        Assert.AreEqual(0.5f, BoxOps.Iou(new BoundingBox(0, 0, 3, 1), new BoundingBox(1, 0, 4, 1)), "overlap 2, union 4");
    }

    [TestMethod]
    public void PairwiseIouMatchesTorchvision()
    {
        // torchvision 0.14 box_iou(boxes[:3], boxes[:4]) of these boxes (computed once with python3-torchvision).
        float[] boxes = [10, 10, 50, 50, 12, 12, 52, 52, 30, 30, 70, 70, 100, 100, 140, 160];
        var iou = BoxOps.PairwiseIou(boxes.AsSpan(0, 12), boxes);
        float[] expected =
        [
            1.0f, 0.8223234415054321f, 0.1428571492433548f, 0f,
            0.8223234415054321f, 1.0f, 0.17820324003696442f, 0f,
            0.1428571492433548f, 0.17820324003696442f, 1.0f, 0f,
        ];
        Assert.AreEqual(expected.Length, iou.Length);
        for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], iou[i], 1e-7f, $"pair {i / 4},{i % 4}");
    }

    [TestMethod]
    public void PairwiseIouEqualsThePerPairIouExactlyIncludingDegenerateBoxes()
    {
        // 37 columns: the vectorized rows and their scalar tails both run; inverted and empty boxes included.
        var random = new Random(9);
        var a = BoxCoderTests.RandomBoxes(random, 23, extent: 50f, minSize: 0f);
        var b = BoxCoderTests.RandomBoxes(random, 37, extent: 50f, minSize: 0f);
        (b[2], b[0]) = (b[0], b[2]);   // inverted in x
        b[7] = b[5];                   // empty in y
        a[4 * 3 + 2] = a[4 * 3];       // empty in x
        b[4 * 10] = a[4 * 3]; b[4 * 10 + 1] = a[4 * 3 + 1]; b[4 * 10 + 2] = a[4 * 3 + 2]; b[4 * 10 + 3] = a[4 * 3 + 3]; // the same empty box
        var boxesA = BoxOps.ToBoxes(a);
        var boxesB = BoxOps.ToBoxes(b);
        var iou = BoxOps.PairwiseIou(a, b);
        for (int i = 0; i < 23; i++)
            for (int j = 0; j < 37; j++)
                Assert.AreEqual(BoxOps.Iou(boxesA[i], boxesB[j]), iou[i * 37 + j], $"pair {i},{j}");
        Assert.AreEqual(0f, iou[3 * 37 + 10], "two identical empty boxes");
    }

    [TestMethod]
    public void PairwiseIouOfEmptySetsIsEmptyAndShapesAreChecked()
    {
        Assert.AreEqual(0, BoxOps.PairwiseIou([], [0f, 0, 1, 1]).Length);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => BoxOps.PairwiseIou([0f, 0, 1], [0f, 0, 1, 1]));
        StringAssert.StartsWith(ex.Message, "'boxes1' has 3 floats; expected N×4 values, four per box.");
        ex = Assert.ThrowsExactly<ArgumentException>(() => BoxOps.PairwiseIou([0f, 0, 1, 1], [0f, 0, 1, 1, 2, 2, 3, 3], new float[3]));
        StringAssert.StartsWith(ex.Message, "'iou' has 3 values; expected 2 (1×2, one value per pair).");
    }

    [TestMethod]
    public void BoundingBoxSpansAreReadAsCornerFloatsWithoutCopying()
    {
        Assert.AreEqual(16, Unsafe.SizeOf<BoundingBox>());
        BoundingBox[] boxes = [new(1, 2, 3, 4), new(5, 6, 7, 8)];
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, BoxOps.ToArray(boxes));
        CollectionAssert.AreEqual(boxes, BoxOps.ToBoxes(BoxOps.ToArray(boxes)));
        var a = new BoundingBox(0, 0, 2, 2);
        var b = new BoundingBox(1, 1, 3, 3);
        CollectionAssert.AreEqual(new[] { 1f, 1f / 7f, 1f / 7f, 1f }, BoxOps.PairwiseIou([a, b], [a, b]));
    }

    [TestMethod]
    public void ClipClampsToTheImage()
    {
        Assert.AreEqual(new BoundingBox(0, 5, 100, 50), BoxOps.Clip(new BoundingBox(-3, 5, 120, 50), 100, 50));
        float[] flat = [-1, -2, 30, 40, 90, 45, 200, 300];
        BoxOps.Clip(flat, 100, 50);
        CollectionAssert.AreEqual(new float[] { 0, 0, 30, 40, 90, 45, 100, 50 }, flat);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BoxOps.Clip(flat, 0, 50));
        StringAssert.StartsWith(ex.Message, "The image size must be positive and finite; got 0×50.");
    }

    [TestMethod]
    public void RemoveSmallKeepsBoxesAtLeastMinSizeAndRemoveEmptyDropsZeroSize()
    {
        float[] boxes = [0, 0, 1, 1, 0, 0, 0.5f, 4, 0, 0, 0, 0, 3, 3, 2, 5, 0, 0, 2, 2];
        CollectionAssert.AreEqual(new[] { 0, 4 }, BoxOps.RemoveSmall(boxes, 1f));
        CollectionAssert.AreEqual(new[] { 0, 1, 4 }, BoxOps.RemoveEmpty(boxes));
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 4 }, BoxOps.RemoveSmall(boxes, 0f), "torchvision's >= keeps zero-size boxes at min size 0");
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BoxOps.RemoveSmall(boxes, -1f));
        StringAssert.StartsWith(ex.Message, "The minimum box size must be a finite number >= 0.");
    }

    [TestMethod]
    public void ConvertBetweenCornersAndCenterSizeRoundTrips()
    {
        float[] corners = [10, 20, 30, 60, -4, -4, 4, 0];
        var centerSize = new float[8];
        BoxOps.Convert(corners, BoxFormat.Corners, BoxFormat.CenterSize, centerSize);
        CollectionAssert.AreEqual(new float[] { 20, 40, 20, 40, 0, -2, 8, 4 }, centerSize);
        BoxOps.Convert(centerSize, BoxFormat.CenterSize, BoxFormat.Corners, centerSize);
        CollectionAssert.AreEqual(corners, centerSize);
    }
}
