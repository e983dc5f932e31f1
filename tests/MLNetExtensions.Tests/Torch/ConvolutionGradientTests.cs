using MLNetExtensions.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

[TestClass]
public sealed class ConvolutionGradientTests
{
    /// <summary>
    /// The gradient of a convolution's input must match a float64 reference for any output channel count. On AVX-512
    /// CPUs oneDNN's AVX-512 and AVX2 backward-data kernels gave errors as large as the values for counts not a
    /// multiple of 16 or 8 (this test failed with them); TorchRuntime caps oneDNN at AVX before libtorch starts.
    /// </summary>
    [TestMethod]
    [DataRow(8)]
    [DataRow(24)]
    [DataRow(30)]
    [DataRow(36)]
    [DataRow(64)]
    public void ConvolutionInputGradientMatchesFloat64(int outChannels)
    {
        TorchRuntime.EnsureLoaded();
        if (Environment.GetEnvironmentVariable(OneDnnIsa.Variable) is null)
            Assert.AreEqual(OneDnnIsa.Cap, OneDnnIsa.EnsureCapped());
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var weight = randn(new long[] { outChannels, 128, 3, 3 }, generator: generator) * 0.05f;
        var gradOut = randn(new long[] { 16, outChannels, 16, 16 }, generator: generator) * 0.01f;
        var x = zeros(16, 128, 16, 16).requires_grad_(true);
        var y = nn.functional.conv2d(x, weight, padding: new long[] { 1, 1 });
        (y * gradOut).sum().backward();
        var reference = nn.functional.conv_transpose2d(gradOut.to(ScalarType.Float64), weight.to(ScalarType.Float64), padding: new long[] { 1, 1 });
        double maxError = (x.grad!.to(ScalarType.Float64) - reference).abs().max().item<double>();
        double scale = reference.abs().max().item<double>();
        Assert.IsLessThan(1e-5 * scale, maxError, $"max error {maxError} for values up to {scale}");
    }
}
