using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class TorchBoxesTests
{
    [ClassInitialize]
    public static void LoadTorch(TestContext _) => TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void BoxIouOfKnownPairs()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 0, 0, 2, 2, 0, 0, 4, 4, 1, 1, 1, 1 }).view(3, 4);
        var b = torch.tensor(new float[] { 1, 1, 3, 3, 2, 0, 4, 2, 1, 1, 1, 1 }).view(3, 4);
        var iou = BoxIou.Pairwise(a, b);
        CollectionAssert.AreEqual(new long[] { 3, 3 }, iou.shape);
        BoxCoderTests.AssertClose(
            [1f / 7f, 0f, 0f,
             4f / 16f, 4f / 16f, 0f,
             0f, 0f, 0f], iou.data<float>().ToArray());
        CollectionAssert.AreEqual(new float[] { 4, 16, 0 }, BoxIou.Area(a).data<float>().ToArray());
    }

    [TestMethod]
    public void BoxIouRejectsWrongShapes()
    {
        using var scope = torch.NewDisposeScope();
        var ex = Assert.ThrowsExactly<ArgumentException>(() => BoxIou.Pairwise(torch.zeros(3, 5), torch.zeros(2, 4)));
        StringAssert.StartsWith(ex.Message, "'boxes1' has shape (3, 5); expected (N, 4) boxes [xmin, ymin, xmax, ymax].");
        ex = Assert.ThrowsExactly<ArgumentException>(() => BoxIou.Pairwise(torch.zeros(3, 4), torch.zeros(2, 4, dtype: ScalarType.Int64)));
        StringAssert.StartsWith(ex.Message, "'boxes2' has dtype Int64; expected a floating-point tensor.");
    }

    [TestMethod]
    public void BoxConvertRoundTrips()
    {
        using var scope = torch.NewDisposeScope();
        var corners = torch.tensor(new float[] { 10, 20, 30, 60, -4, -4, 4, 0 }).view(2, 4);
        var centerSize = BoxConvert.CornersToCenterSize(corners);
        CollectionAssert.AreEqual(new float[] { 20, 40, 20, 40, 0, -2, 8, 4 }, centerSize.data<float>().ToArray());
        CollectionAssert.AreEqual(corners.data<float>().ToArray(), BoxConvert.CenterSizeToCorners(centerSize).data<float>().ToArray());
    }

    [TestMethod]
    public void BoxCoderMatchesTorchvision()
    {
        // torchvision 0.14 BoxCoder((10, 10, 5, 5)).encode_single / decode_single (computed once with python3-torchvision).
        using var scope = torch.NewDisposeScope();
        var coder = BoxCoder.RoiHeads();
        var codes = coder.Encode(torch.tensor(new float[] { 0, 0, 10, 10, 20, 20, 40, 40 }).view(2, 4),
                                 torch.tensor(new float[] { 5, 5, 15, 15, 20, 20, 38, 40 }).view(2, 4));
        BoxCoderTests.AssertClose([-5f, -5f, 0f, 0f, 0.5555555820465088f, 0f, 0.5268027782440186f, 0f], codes.data<float>().ToArray());
        var boxes = coder.Decode(torch.tensor(new float[] { 0.5f, -0.3f, 0.2f, -0.1f, 1f, 1f, 100f, -100f }).view(1, 8),
                                 torch.tensor(new float[] { 0, 0, 10, 10 }).view(1, 4));
        CollectionAssert.AreEqual(new long[] { 1, 8 }, boxes.shape);
        BoxCoderTests.AssertClose([0.2959461212158203f, -0.20099353790283203f, 10.70405387878418f, 9.600993156433105f,
                                   -306.5000305175781f, 6f, 318.5000305175781f, 6f], boxes.data<float>().ToArray(), 1e-5f);
    }

    [TestMethod]
    public void SsdVariancesAreWeightsTenTenFiveFive()
    {
        var ssd = BoxCoder.FromVariances();
        Assert.AreEqual((10f, 10f, 5f, 5f), (ssd.XWeight, ssd.YWeight, ssd.WidthWeight, ssd.HeightWeight));
        var rpn = BoxCoder.Rpn();
        Assert.AreEqual((1f, 1f, 1f, 1f), (rpn.XWeight, rpn.YWeight, rpn.WidthWeight, rpn.HeightWeight));
        Assert.AreEqual((float)Math.Log(1000.0 / 16.0), rpn.ExpClamp);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BoxCoder.FromVariances(0f));
        StringAssert.StartsWith(ex.Message, "'xVariance' must be a positive finite number.");
    }

    [TestMethod]
    public void BoxCoderRejectsMismatchedShapes()
    {
        using var scope = torch.NewDisposeScope();
        var ex = Assert.ThrowsExactly<ArgumentException>(() => BoxCoder.Rpn().Encode(torch.zeros(2, 4), torch.zeros(3, 4)));
        StringAssert.StartsWith(ex.Message, "'boxes' has 2 rows and 'anchors' 3; encode needs one box per anchor.");
        ex = Assert.ThrowsExactly<ArgumentException>(() => BoxCoder.Rpn().Decode(torch.zeros(3, 6), torch.zeros(3, 4)));
        StringAssert.StartsWith(ex.Message, "'codes' has shape (3, 6); expected (3, 4K), K boxes per anchor.");
    }
}
