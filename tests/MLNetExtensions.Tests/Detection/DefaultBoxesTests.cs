using MLNetExtensions.Detection;

namespace MLNetExtensions.Tests.Detection;

[TestClass]
public sealed class DefaultBoxesTests
{
    [TestMethod]
    public void TwoMapsGiveTheHandComputedBoxesInHeadOrder()
    {
        var d = new DefaultBoxes([(2, 2), (1, 1)], [[2f], []], minScale: 0.15f, maxScale: 0.9f);
        CollectionAssert.AreEqual(new[] { 4, 2 }, d.BoxesPerLocation);
        Assert.AreEqual(2 * 2 * 4 + 1 * 1 * 2, d.Count);
        float s0 = 0.15f, s0p = MathF.Sqrt(0.15f * 0.9f), q = MathF.Sqrt(2f);
        float[] first = [0.25f, 0.25f, s0, s0, 0.25f, 0.25f, s0p, s0p, 0.25f, 0.25f, s0 * q, s0 / q, 0.25f, 0.25f, s0 / q, s0 * q];
        for (int i = 0; i < first.Length; i++) Assert.AreEqual(first[i], d.CenterSize[i], 1e-6f, $"value {i}");
        // Second location of map 0 is column 1, row 0.
        Assert.AreEqual(0.75f, d.CenterSize[16], 1e-6f);
        Assert.AreEqual(0.25f, d.CenterSize[17], 1e-6f);
        // Map 1: scale 0.9, s' = sqrt(0.9 * 1.0).
        int last = 16 * 4;
        CollectionAssert.AreEqual(new[] { 0.5f, 0.5f, 0.9f, 0.9f, 0.5f, 0.5f, MathF.Sqrt(0.9f), MathF.Sqrt(0.9f) }, d.CenterSize[last..]);
    }

    [TestMethod]
    public void CornersArePixelsOfTheImage()
    {
        var d = new DefaultBoxes([(1, 1)], [[]], minScale: 0.5f, maxScale: 0.5f);
        var c = d.ToCorners(200, 100);
        CollectionAssert.AreEqual(new[] { 50f, 25f, 150f, 75f }, c[..4]);
    }

    [TestMethod]
    public void RejectsMismatchedAspectRatios()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new DefaultBoxes([(2, 2), (1, 1)], [[2f]]));
        StringAssert.StartsWith(ex.Message, "1 aspect-ratio lists for 2 feature maps; give one list per map.");
    }
}
