using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

[TestClass]
public sealed class ConvolutionGradientTests
{
    /// <summary>
    /// The gradient of a convolution's input, through <see cref="PaddedConvolution"/> (how the library's networks call
    /// their convolutions), matches a float64 reference for any channel count, kernel, stride and dilation at the ISA
    /// oneDNN runs at in this process. On AVX-512 CPUs a plain call gave errors as large as the values for output counts
    /// not a multiple of 16; on 2026-12-02's host a plain call was right at every ISA. The rows with
    /// <paramref name="channelsLast"/> run on an input in channels-last memory (<see cref="ChannelsLastLayout"/>), where
    /// oneDNN runs other kernels: the layout the detection networks compute in.
    /// </summary>
    [TestMethod]
    [DataRow(128, 8, 3, 1, 1, false)]
    [DataRow(128, 24, 3, 1, 1, false)]
    [DataRow(128, 30, 3, 1, 1, false)]
    [DataRow(128, 36, 3, 1, 1, false)]
    [DataRow(128, 64, 3, 1, 1, false)]
    [DataRow(24, 36, 3, 2, 1, false)]
    [DataRow(40, 20, 3, 2, 1, false)]
    [DataRow(12, 36, 5, 1, 1, false)]
    [DataRow(48, 18, 3, 1, 2, false)]
    [DataRow(20, 36, 1, 1, 1, false)]
    [DataRow(3, 20, 7, 2, 1, false)]
    [DataRow(128, 24, 3, 1, 1, true)]
    [DataRow(128, 30, 3, 1, 1, true)]
    [DataRow(128, 64, 3, 1, 1, true)]
    [DataRow(24, 36, 3, 2, 1, true)]
    [DataRow(40, 20, 3, 2, 1, true)]
    [DataRow(48, 18, 3, 1, 2, true)]
    [DataRow(20, 36, 1, 1, 1, true)]
    [DataRow(3, 20, 3, 1, 1, true)]
    public void ConvolutionInputGradientMatchesFloat64(int inChannels, int outChannels, int kernel, int stride, int dilation, bool channelsLast)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(5);
        var conv = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: dilation * (kernel - 1) / 2, dilation: dilation);
        var generator = new Generator(5);
        var x = randn(new long[] { 8, inChannels, 16, 16 }, generator: generator) * 0.5f;
        if (channelsLast) x = ChannelsLastLayout.Apply(x);
        x.requires_grad_(true);
        var y = PaddedConvolution.Apply(conv, x);
        Assert.AreEqual(channelsLast, ChannelsLastLayout.IsChannelsLast(y), "the convolution keeps its input's layout");
        var gradOut = randn(y.shape, generator: generator) * 0.01f;
        (y * gradOut).sum().backward();

        // float64 runs libtorch's own convolution, not oneDNN.
        var x64 = x.detach().to(ScalarType.Float64).requires_grad_(true);
        var w64 = conv.weight!.detach().to(ScalarType.Float64).requires_grad_(true);
        var y64 = nn.functional.conv2d(x64, w64, conv.bias!.detach().to(ScalarType.Float64), strides: conv.stride, padding: conv.padding, dilation: conv.dilation);
        (y64 * gradOut.to(ScalarType.Float64)).sum().backward();

        Assert.IsLessThan(1e-5 * Scale(y64), MaxError(y, y64), "forward");
        Assert.IsLessThan(1e-5 * Scale(x64.grad!), MaxError(x.grad!, x64.grad!), "input gradient");
        Assert.IsLessThan(1e-4 * Scale(w64.grad!), MaxError(conv.weight!.grad!, w64.grad!), "weight gradient");
    }

    private static double MaxError(Tensor a, Tensor reference) => (a.to(ScalarType.Float64) - reference).abs().max().item<double>();

    private static double Scale(Tensor reference) => reference.abs().max().item<double>();
}
