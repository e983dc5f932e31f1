using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Tests.Transforms;

[TestClass]
public sealed class BoxMathTests
{
    [TestMethod]
    public void ScaleAndOffsetMovesEachCoordinateOnItsAxis()
    {
        float[] boxes = [2, 1, 6, 3, 0, 0, 8, 4];
        BoxMath.ScaleAndOffset(boxes, 0.5f, 2f, 10f, -1f);
        CollectionAssert.AreEqual(new float[] { 11, 1, 13, 5, 10, -1, 14, 7 }, boxes);
    }

    [TestMethod]
    public void FlipMirrorsAndSwapsXAndTwiceIsIdentity()
    {
        float[] boxes = [1, 2, 4, 5, 0, 0, 10, 1];
        BoxMath.FlipHorizontal(boxes, 10);
        CollectionAssert.AreEqual(new float[] { 6, 2, 9, 5, 0, 0, 10, 1 }, boxes);
        BoxMath.FlipHorizontal(boxes, 10);
        CollectionAssert.AreEqual(new float[] { 1, 2, 4, 5, 0, 0, 10, 1 }, boxes);
    }

    [TestMethod]
    public void CropMovesClipsAndDropsByVisibleFraction()
    {
        // Crop (2, 2) 6×6 out of a 10×10 image.
        float[] boxes =
        [
            3, 3, 5, 5,      // inside: moves to [1, 1, 3, 3]
            0, 0, 4, 4,      // 2×2 of 4×4 visible = 0.25: clipped to [0, 0, 2, 2]
            7, 7, 10, 10,    // 1×1 of 3×3 visible = 0.111: dropped at 0.25
            8.5f, 0, 9, 1,   // entirely right of the crop: dropped
        ];
        var (kept, index) = BoxMath.Crop(boxes, new PixelRect(2, 2, 6, 6), 0.25f);
        CollectionAssert.AreEqual(new float[] { 1, 1, 3, 3, 0, 0, 2, 2 }, kept);
        CollectionAssert.AreEqual(new[] { 0, 1 }, index);

        var (keptAll, indexAll) = BoxMath.Crop(boxes, new PixelRect(2, 2, 6, 6), 0.1f);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, indexAll);
        CollectionAssert.AreEqual(new float[] { 5, 5, 6, 6 }, keptAll[8..]);
    }

    [TestMethod]
    public void IoUOfBoxAndRectangle()
    {
        float[] boxes = [0, 0, 4, 4];
        // Intersection 2×4 = 8, union 16 + 16 - 8 = 24.
        Assert.AreEqual(8f / 24f, BoxMath.IoU(boxes, 0, new PixelRect(2, 0, 4, 4)), 1e-6f);
        Assert.AreEqual(0f, BoxMath.IoU(boxes, 0, new PixelRect(4, 0, 4, 4)));
        Assert.AreEqual(1f, BoxMath.IoU(boxes, 0, new PixelRect(0, 0, 4, 4)));
    }

    [TestMethod]
    public void LetterboxGeometryOfAWideImage()
    {
        // 8×4 into 6×6: scale min(6/8, 6/4) = 0.75, content 6×3, centred vertically: (6 - 3) / 2 = 1.
        var g = LetterboxGeometry.Compute(8, 4, 6, 6, centred: true);
        Assert.AreEqual(0.75f, g.Scale);
        Assert.AreEqual((6, 3, 0, 1), (g.ContentWidth, g.ContentHeight, g.OffsetX, g.OffsetY));
        float[] boxes = [2, 1, 6, 3];
        g.MapBoxesForward(boxes);
        CollectionAssert.AreEqual(new float[] { 1.5f, 1.75f, 4.5f, 3.25f }, boxes);
        g.MapBoxesBack(boxes);
        CollectionAssert.AreEqual(new float[] { 2, 1, 6, 3 }, boxes);

        var topLeft = LetterboxGeometry.Compute(8, 4, 6, 6, centred: false);
        Assert.AreEqual((0, 0), (topLeft.OffsetX, topLeft.OffsetY));
        // 5×7 into 4×4: scale 4/7, content round(2.857) = 3 × 4, offset x (4 - 3) / 2 = 0 (left gets the smaller half).
        var tall = LetterboxGeometry.Compute(5, 7, 4, 4, centred: true);
        Assert.AreEqual((3, 4, 0, 0), (tall.ContentWidth, tall.ContentHeight, tall.OffsetX, tall.OffsetY));
    }

    [TestMethod]
    public void SeededRandomIsAFixedSequencePerSeedAndRow()
    {
        var a = SeededRandom.ForRow(7, 0, 3);
        var b = SeededRandom.ForRow(7, 0, 3);
        var c = SeededRandom.ForRow(7, 0, 4);
        var d = SeededRandom.ForRow(8, 0, 3);
        var sa = Enumerable.Range(0, 5).Select(_ => a.NextUInt64()).ToArray();
        CollectionAssert.AreEqual(sa, Enumerable.Range(0, 5).Select(_ => b.NextUInt64()).ToArray());
        CollectionAssert.AreNotEqual(sa, Enumerable.Range(0, 5).Select(_ => c.NextUInt64()).ToArray());
        CollectionAssert.AreNotEqual(sa, Enumerable.Range(0, 5).Select(_ => d.NextUInt64()).ToArray());
        // SplitMix64's published first output for seed 0 pins the algorithm.
        Assert.AreEqual(0xE220A8397B1DCDAFUL, new SeededRandom(0).NextUInt64());
        var r = new SeededRandom(1);
        for (int i = 0; i < 1000; i++)
        {
            double v = r.NextDouble();
            Assert.IsTrue(v >= 0 && v < 1, v.ToString());
            int k = r.NextInt(3);
            Assert.IsTrue(k is >= 0 and < 3, k.ToString());
        }
    }
}
