using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

/// <summary>
/// <see cref="BilinearResize"/> computes what libtorch's <c>interpolate(size, mode: Bilinear, align_corners: false)</c>
/// computes, forward and input gradient, up and down, at integer and other ratios, to one pixel and from one, in NCHW
/// and channels-last memory (whose layout the output keeps).
/// </summary>
[TestClass]
public sealed class BilinearResizeTests
{
    [TestMethod]
    [DataRow(16L, 16L, 64L, 64L, false)]   // DeepLab's logits back to the input size
    [DataRow(4L, 4L, 16L, 16L, true)]      // DeepLab's decoder, ASPP output to the low-level map, channels-last
    [DataRow(6L, 5L, 13L, 17L, false)]
    [DataRow(6L, 5L, 13L, 17L, true)]
    [DataRow(9L, 11L, 4L, 3L, false)]      // down
    [DataRow(1L, 1L, 3L, 5L, false)]       // from one pixel
    [DataRow(7L, 6L, 1L, 1L, true)]        // to one pixel
    [DataRow(8L, 8L, 8L, 8L, false)]       // same size
    public void MatchesInterpolateForwardAndBackward(long h, long w, long height, long width, bool channelsLast)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x0 = randn(new long[] { 2, 5, h, w }, generator: new Generator(7));
        if (channelsLast) x0 = ChannelsLastLayout.Apply(x0);
        var ours = x0.detach().clone().requires_grad_(true);
        var reference = x0.detach().clone().requires_grad_(true);

        var y = BilinearResize.Apply(ours, height, width);
        var expected = nn.functional.interpolate(reference, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        CollectionAssert.AreEqual(expected.shape, y.shape);
        Assert.IsLessThan(1e-5, (y - expected).abs().max().item<float>(), "values");
        if (channelsLast && height * width > 1) Assert.IsTrue(ChannelsLastLayout.IsChannelsLast(y), $"channels-last in, channels-last out: strides {string.Join(",", y.stride())}");
        if (!channelsLast) Assert.IsTrue(y.is_contiguous(), "NCHW in, NCHW out");

        var g = randn(y.shape, generator: new Generator(8));
        (y * g).sum().backward();
        (expected * g).sum().backward();
        Assert.IsLessThan(1e-5, (ours.grad! - reference.grad!).abs().max().item<float>(), "input gradient");
    }

    [TestMethod]
    public void RejectsATensorThatIsNotNchw()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var error = Assert.ThrowsExactly<ArgumentException>(() => BilinearResize.Apply(zeros(5, 4, 4), 8, 8));
        Assert.AreEqual("Expected an (N, C, H, W) tensor, got 3 dimensions. (Parameter 'input')", error.Message);
    }
}
