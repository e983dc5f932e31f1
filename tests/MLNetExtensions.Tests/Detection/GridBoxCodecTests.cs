using MLNetExtensions.Detection;

namespace MLNetExtensions.Tests.Detection;

[TestClass]
public sealed class GridBoxCodecTests
{
    [TestMethod]
    public void EncodesHandComputedTargets()
    {
        // 4×4 grid on a 100×100 image; box centre (37.5, 62.5) falls in row 2, col 1 (cells are 25 px).
        var codec = new GridBoxCodec(4, 3);
        var t = codec.Encode([25f, 50f, 50f, 75f], [2], 100, 100);
        int cell = 2 * 4 + 1;
        Assert.IsTrue(t.Responsible[cell]);
        Assert.AreEqual(1, t.Responsible.Count(r => r));
        CollectionAssert.AreEqual(new[] { 0f, 0f, 1f }, t.ClassTargets[(cell * 3)..(cell * 3 + 3)]);
        // Centre at the middle of its cell: tx = ty = 0. w = h = 0.25: tw = th = 2*0.25 - 1 = -0.5.
        CollectionAssert.AreEqual(new[] { 0f, 0f, -0.5f, -0.5f }, t.BoxTargets[(cell * 4)..(cell * 4 + 4)]);
    }

    [TestMethod]
    public void TargetsRoundTripThroughDecoding()
    {
        var rng = new Random(7);
        var codec = new GridBoxCodec(7, 4);
        for (int trial = 0; trial < 200; trial++)
        {
            float w = 10 + (float)rng.NextDouble() * 150, h = 10 + (float)rng.NextDouble() * 100;
            float x0 = (float)rng.NextDouble() * (224 - w), y0 = (float)rng.NextDouble() * (160 - h);
            int label = rng.Next(4);
            var t = codec.Encode([x0, y0, x0 + w, y0 + h], [label], 224, 160);
            var scores = t.ClassTargets;
            var dets = codec.Decode(t.BoxTargets, scores, 224, 160, 0.5f);
            Assert.AreEqual(1, dets.Count);
            var d = dets[0];
            Assert.AreEqual(label, d.ClassIndex);
            Assert.AreEqual(x0, d.XMin, 1e-3f); Assert.AreEqual(y0, d.YMin, 1e-3f);
            Assert.AreEqual(x0 + w, d.XMax, 1e-3f); Assert.AreEqual(y0 + h, d.YMax, 1e-3f);
        }
    }

    [TestMethod]
    public void LargerBoxWinsACellAndZeroSizeBoxesAreSkipped()
    {
        var codec = new GridBoxCodec(2, 2);
        var t = codec.Encode([10f, 10f, 20f, 20f, /**/ 0f, 0f, 40f, 40f, /**/ 60f, 60f, 60f, 70f], [0, 1, 0], 100, 100);
        Assert.AreEqual(1, t.Responsible.Count(r => r));
        CollectionAssert.AreEqual(new[] { 0f, 1f }, t.ClassTargets[..2]);
    }

    [TestMethod]
    public void RejectsLabelOutsideTheClasses()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new GridBoxCodec(2, 2).Encode([0f, 0f, 5f, 5f], [2], 10, 10));
        StringAssert.StartsWith(ex.Message, "Label 2 of box 0 is outside 0..1.");
    }
}
