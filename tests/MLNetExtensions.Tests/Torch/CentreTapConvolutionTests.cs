using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

/// <summary>
/// <see cref="CentreTapConvolution"/>: where an atrous convolution's off-centre taps read only padding, its 1×1 centre
/// tap gives the full convolution's output and gradients (input, weights, bias; off-centre weight gradients zero in
/// both), NCHW and channels-last; it applies exactly where no off-centre tap reaches a pixel.
/// </summary>
[TestClass]
public sealed class CentreTapConvolutionTests
{
    [TestMethod]
    [DataRow(128L, 64L, 3L, 6L, 4L, 4L, 1L, false)]    // the quickstart's ASPP branch at rate 6 on the 4×4 map
    [DataRow(128L, 64L, 3L, 18L, 4L, 4L, 1L, true)]    // rate 18, channels-last
    [DataRow(12L, 20L, 3L, 5L, 5L, 3L, 1L, false)]     // dilation equal to the height
    [DataRow(8L, 8L, 5L, 4L, 4L, 4L, 2L, false)]       // a 5×5 kernel, groups
    public void GivesTheFullConvolutionsOutputAndGradients(long inChannels, long outChannels, long kernel, long dilation, long h, long w, long groups, bool channelsLast)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(3);
        var conv = nn.Conv2d(inChannels, outChannels, kernel, padding: dilation * (kernel - 1) / 2, dilation: dilation, groups: groups, bias: true);
        var x0 = randn(new long[] { 3, inChannels, h, w }, generator: new Generator(4));
        if (channelsLast) x0 = ChannelsLastLayout.Apply(x0);
        var x = x0.detach().clone().requires_grad_(true);
        Assert.IsTrue(CentreTapConvolution.Applies(conv, x));

        var y = CentreTapConvolution.Apply(conv, x);
        var g = randn(y.shape, generator: new Generator(5));
        (y * g).sum().backward();
        var (gx, gw, gb) = (x.grad!.clone(), conv.weight!.grad!.clone(), conv.bias!.grad!.clone());
        conv.zero_grad();
        var reference = x0.detach().clone().requires_grad_(true);
        var expected = conv.call(reference);
        (expected * g).sum().backward();

        CollectionAssert.AreEqual(expected.shape, y.shape);
        Assert.IsLessThan(1e-5, RelativeError(y, expected), "output");
        Assert.IsLessThan(1e-5, RelativeError(gx, reference.grad!), "input gradient");
        Assert.IsLessThan(1e-5, RelativeError(gw, conv.weight!.grad!), "weight gradient");
        Assert.IsLessThan(1e-5, RelativeError(gb, conv.bias!.grad!), "bias gradient");
        long c = kernel / 2;
        var offCentre = ones_like(gw);
        offCentre[.., .., c, c].fill_(0);
        Assert.AreEqual(0f, (gw * offCentre).abs().max().item<float>(), "off-centre weights get no gradient");
        Assert.AreEqual(0f, (conv.weight!.grad! * offCentre).abs().max().item<float>(), "nor in the full convolution");
    }

    [TestMethod]
    public void AppliesOnlyWhereEveryOffCentreTapReadsPadding()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = randn(2, 8, 4, 6).requires_grad_(true);
        Assert.IsTrue(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 6, dilation: 6), x));
        Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 5, dilation: 5), x), "dilation 5 < width 6: a tap reaches a pixel");
        Assert.IsTrue(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 2, dilation: 2), randn(2, 8, 2, 2).requires_grad_(true)), "dilation 2 on a 2×2 map");
        Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 1), randn(2, 8, 1, 1).requires_grad_(true)), "an undilated kernel, even on a 1×1 map");
        Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, stride: 2, padding: 6, dilation: 6), x), "strided");
        Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 0L, dilation: 6), x), "not same-padded");
        Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 1), x), "a 1×1 kernel");
        using (no_grad())
            Assert.IsFalse(CentreTapConvolution.Applies(nn.Conv2d(8, 8, 3, padding: 6, dilation: 6), x), "without autograd the convolution runs as it is");
    }

    private static double RelativeError(Tensor a, Tensor reference)
        => (a - reference).abs().max().item<float>() / Math.Max(reference.abs().max().item<float>(), 1e-12f);
}
