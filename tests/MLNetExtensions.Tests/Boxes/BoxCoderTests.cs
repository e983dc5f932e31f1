using MLNetExtensions.Boxes;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class BoxCoderTests
{
    private static readonly float Log2 = MathF.Log(2f);

    [TestMethod]
    public void FasterRcnnEncodesKnownNumbers()
    {
        // Anchor [0,0,10,10]: centre (5,5), size 10×10. Box [2,4,12,24]: centre (7,14), size 10×20.
        float[] anchor = [0, 0, 10, 10], box = [2, 4, 12, 24];
        AssertClose([0.2f, 0.9f, 0f, Log2], FasterRcnnBoxCoder.Rpn().Encode(box, anchor));
        AssertClose([2f, 9f, 0f, 5f * Log2], FasterRcnnBoxCoder.RoiHeads().Encode(box, anchor));
    }

    [TestMethod]
    public void FasterRcnnMatchesTorchvision()
    {
        // torchvision 0.14 BoxCoder((10, 10, 5, 5)).encode_single / decode_single, computed once with python3-torchvision.
        var coder = FasterRcnnBoxCoder.RoiHeads();
        AssertClose([-5f, -5f, 0f, 0f, 0.5555555820465088f, 0f, 0.5268027782440186f, 0f],
            coder.Encode([0, 0, 10, 10, 20, 20, 40, 40], [5, 5, 15, 15, 20, 20, 38, 40]));
        // Second box: width code 100 clamps at log(1000/16), height code -100 shrinks to nothing.
        AssertClose([0.2959461212158203f, -0.20099353790283203f, 10.70405387878418f, 9.600993156433105f,
                     -306.5000305175781f, 6f, 318.5000305175781f, 6f],
            coder.Decode([0.5f, -0.3f, 0.2f, -0.1f, 1f, 1f, 100f, -100f], [0, 0, 10, 10]), 1e-4f);
    }

    [TestMethod]
    public void DecodeClampsTheExpArgumentAtLog1000Over16()
    {
        var boxes = FasterRcnnBoxCoder.Rpn().Decode([0, 0, 1000, 1000], [0, 0, 10, 10]);
        AssertClose([5 - 312.5f, 5 - 312.5f, 5 + 312.5f, 5 + 312.5f], boxes, 1e-3f); // 10 · 1000/16 wide
        var unclamped = new FasterRcnnBoxCoder(expClamp: float.PositiveInfinity).Decode([0, 0, 10, 0], [0, 0, 10, 10]);
        Assert.AreEqual(10f * MathF.Exp(10f), unclamped[2] - unclamped[0], 1f);
    }

    [TestMethod]
    public void SsdEncodesKnownNumbersWithVariances()
    {
        // Prior centre (0.5, 0.5), size 0.2×0.4. Box [0.45,0.35,0.65,0.85]: centre (0.55, 0.6), size 0.2×0.5.
        // dx = 0.05 / (0.2·0.1) = 2.5, dy = 0.1 / (0.4·0.1) = 2.5, dw = log 1 / 0.2 = 0, dh = log 1.25 / 0.2.
        float[] expected = [2.5f, 2.5f, 0f, MathF.Log(1.25f) / 0.2f];
        float[] box = [0.45f, 0.35f, 0.65f, 0.85f];
        AssertClose(expected, new SsdBoxCoder([0.5f, 0.5f, 0.2f, 0.4f]).Encode(box), 1e-5f);
        AssertClose(expected, new SsdBoxCoder([0.4f, 0.3f, 0.6f, 0.7f], BoxFormat.Corners).Encode(box), 1e-5f);
        AssertClose([5f, 5f, 0f, MathF.Log(1.25f)], new SsdBoxCoder([0.5f, 0.5f, 0.2f, 0.4f], BoxFormat.CenterSize, 0.05f, 0.05f, 1f, 1f).Encode(box), 1e-5f);
    }

    [TestMethod]
    public void SsdVariancesAreFasterRcnnRoiHeadWeights()
    {
        var random = new Random(7);
        var anchors = RandomBoxes(random, 50);
        var boxes = RandomBoxes(random, 50);
        var ssd = new SsdBoxCoder(anchors, BoxFormat.Corners);
        var rcnn = FasterRcnnBoxCoder.RoiHeads();
        var ssdCodes = ssd.Encode(boxes);
        AssertClose(rcnn.Encode(boxes, anchors), ssdCodes, 1e-5f);
        AssertClose(rcnn.Decode(ssdCodes, anchors), ssd.Decode(ssdCodes), 1e-3f);
    }

    [TestMethod]
    public void EncodeThenDecodeRoundTrips()
    {
        var random = new Random(11);
        var anchors = RandomBoxes(random, 200);
        var boxes = RandomBoxes(random, 200);
        foreach (var coder in new[] { FasterRcnnBoxCoder.Rpn(), FasterRcnnBoxCoder.RoiHeads(), new FasterRcnnBoxCoder(2, 3, 4, 5) })
            AssertClose(boxes, coder.Decode(coder.Encode(boxes, anchors), anchors), 1e-3f);
        var ssd = new SsdBoxCoder(anchors, BoxFormat.Corners);
        AssertClose(boxes, ssd.Decode(ssd.Encode(boxes)), 1e-3f);
    }

    [TestMethod]
    public void DecodeGivesOneBoxPerClassForPerClassCodes()
    {
        // Box head regression is (N, 4K): two anchors, three classes each.
        float[] anchors = [0, 0, 10, 10, 20, 20, 40, 30];
        var codes = new float[2 * 12];
        codes[4 + 0] = 1f; // anchor 0, class 1 shifted right by one anchor width (weights 1)
        codes[12 + 8 + 3] = Log2; // anchor 1, class 2 twice as high
        var boxes = FasterRcnnBoxCoder.Rpn().Decode(codes, anchors);
        AssertClose([0, 0, 10, 10, 10, 0, 20, 10, 0, 0, 10, 10, 20, 20, 40, 30, 20, 20, 40, 30, 20, 15, 40, 35], boxes, 1e-5f);
    }

    [TestMethod]
    public void BadInputIsRejectedWithAMessage()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => FasterRcnnBoxCoder.Rpn().Encode([0, 0, 5, 0], [0, 0, 10, 10]));
        StringAssert.StartsWith(ex.Message, "Box 0 [0, 0, 5, 0] cannot be encoded against its anchor (cx 5, cy 5, w 10, h 10): both need a positive, finite width and height.");
        ex = Assert.ThrowsExactly<ArgumentException>(() => new SsdBoxCoder([0.5f, 0.5f, 0.2f, 0.4f, 0.5f, 0.5f, 0f, 0.1f]));
        StringAssert.StartsWith(ex.Message, "Prior 1 (cx 0.5, cy 0.5, w 0, h 0.1) needs a finite centre and a positive, finite width and height.");
        ex = Assert.ThrowsExactly<ArgumentException>(() => new SsdBoxCoder([0.5f, 0.5f, 0.2f, 0.4f]).Encode(new float[8]));
        StringAssert.StartsWith(ex.Message, "'boxes' has 8 values; expected 4 (1×4, one box per prior).");
        ex = Assert.ThrowsExactly<ArgumentException>(() => FasterRcnnBoxCoder.Rpn().Decode(new float[6], [0, 0, 1, 1]));
        StringAssert.StartsWith(ex.Message, "'codes' has 6 values; expected N×4K for the 1 anchors (K boxes per anchor).");
        var range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new FasterRcnnBoxCoder(0f));
        StringAssert.StartsWith(range.Message, "'xWeight' must be a positive finite number.");
        range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SsdBoxCoder([0.5f, 0.5f, 0.2f, 0.4f], BoxFormat.CenterSize, 0.1f, -0.1f, 0.2f, 0.2f));
        StringAssert.StartsWith(range.Message, "'yVariance' must be a positive finite number.");
    }

    internal static float[] RandomBoxes(Random random, int count, float extent = 500f, float minSize = 4f)
    {
        var boxes = new float[count * 4];
        for (int i = 0; i < count; i++)
        {
            float x = random.NextSingle() * extent, y = random.NextSingle() * extent;
            boxes[4 * i] = x; boxes[4 * i + 1] = y;
            boxes[4 * i + 2] = x + minSize + random.NextSingle() * extent / 5f; // size ratios stay under the decode clamp (62.5)
            boxes[4 * i + 3] = y + minSize + random.NextSingle() * extent / 5f;
        }
        return boxes;
    }

    internal static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-6f)
    {
        Assert.AreEqual(expected.Length, actual.Length, "length");
        for (int i = 0; i < expected.Length; i++)
        {
            float scale = Math.Max(1f, Math.Abs(expected[i]));
            Assert.IsTrue(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"[{i}] expected {expected[i]}, got {actual[i]}");
        }
    }
}
