using MLNetExtensions.Boxes;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using TorchSharp;

namespace MLNetExtensions.Tests.Boxes;

/// <summary>The scoring code (plain C#) and the training code (TorchSharp) must agree on the same random boxes.</summary>
[TestClass]
public sealed class CSharpAgainstTorchTests
{
    private const float Tolerance = 1e-5f;

    [ClassInitialize]
    public static void LoadTorch(TestContext _) => TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void PairwiseIouAgrees()
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(21);
        var a = BoxCoderTests.RandomBoxes(random, 120, extent: 300f);
        var b = BoxCoderTests.RandomBoxes(random, 170, extent: 300f);
        b[0] = b[2]; // one empty box: both sides say 0
        var expected = BoxIou.Pairwise(torch.tensor(a).view(-1, 4), torch.tensor(b).view(-1, 4)).data<float>().ToArray();
        var actual = BoxOps.PairwiseIou(a, b);
        Assert.IsTrue(actual.Count(v => v > 0.1f) > 100, "the random boxes overlap often enough to test something");
        BoxCoderTests.AssertClose(expected, actual, Tolerance);
    }

    [TestMethod]
    public void FasterRcnnCodingAgrees()
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(22);
        var anchors = BoxCoderTests.RandomBoxes(random, 300);
        var boxes = BoxCoderTests.RandomBoxes(random, 300);
        var codesForDecode = Enumerable.Range(0, 300 * 8).Select(_ => (random.NextSingle() - 0.5f) * 4f).ToArray(); // K = 2
        foreach (var (scalar, tensor) in new[] { (FasterRcnnBoxCoder.Rpn(), BoxCoder.Rpn()), (FasterRcnnBoxCoder.RoiHeads(), BoxCoder.RoiHeads()) })
        {
            var anchorTensor = torch.tensor(anchors).view(-1, 4);
            BoxCoderTests.AssertClose(tensor.Encode(torch.tensor(boxes).view(-1, 4), anchorTensor).data<float>().ToArray(), scalar.Encode(boxes, anchors), Tolerance);
            BoxCoderTests.AssertClose(tensor.Decode(torch.tensor(codesForDecode).view(300, 8), anchorTensor).data<float>().ToArray(), scalar.Decode(codesForDecode, anchors), Tolerance);
        }
    }

    [TestMethod]
    public void SsdCodingWithCenterSizePriorsAgrees()
    {
        using var scope = torch.NewDisposeScope();
        var random = new Random(23);
        var priors = new float[200 * 4]; // normalized centre-size priors, as an SSD prior generator writes them
        for (int i = 0; i < 200; i++)
        {
            priors[4 * i] = random.NextSingle(); priors[4 * i + 1] = random.NextSingle();
            priors[4 * i + 2] = 0.05f + 0.5f * random.NextSingle(); priors[4 * i + 3] = 0.05f + 0.5f * random.NextSingle();
        }
        var boxes = BoxCoderTests.RandomBoxes(random, 200, extent: 1f, minSize: 0.02f);
        var scalar = new SsdBoxCoder(priors);
        var tensor = BoxCoder.FromVariances();
        var priorCorners = BoxConvert.CenterSizeToCorners(torch.tensor(priors).view(-1, 4));
        var codes = scalar.Encode(boxes);
        BoxCoderTests.AssertClose(tensor.Encode(torch.tensor(boxes).view(-1, 4), priorCorners).data<float>().ToArray(), codes, Tolerance);
        BoxCoderTests.AssertClose(tensor.Decode(torch.tensor(codes).view(-1, 4), priorCorners).data<float>().ToArray(), scalar.Decode(codes), Tolerance);
    }
}
