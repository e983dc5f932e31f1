using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Onnx;

[TestClass]
public sealed class BatchNormFoldingTests
{
    [TestInitialize]
    public void LoadTorch() => MLNetExtensions.Torch.TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void FoldedConvolutionComputesConvolutionThenBatchNorm()
    {
        using var conv = nn.Conv2d(4, 6, 3, stride: 2, padding: 1, groups: 2, bias: true);
        using var bn = nn.BatchNorm2d(6, eps: 1e-3);
        Randomize(nn.Sequential(conv, bn), seed: 30);
        var (weight, bias) = BatchNormFolding.Fold(conv, bn);
        using (weight)
        using (bias)
        using (var x = torch.randn(2, 4, 9, 9))
        using (torch.no_grad())
        {
            using var expected = bn.call(conv.call(x));
            using var actual = torch.nn.functional.conv2d(x, weight, bias, strides: [2, 2], padding: [1, 1], groups: 2);
            double maxDiff = (expected - actual).abs().max().item<float>();
            Assert.IsTrue(maxDiff < 1e-5, $"max diff {maxDiff}");
            Assert.IsTrue(expected.abs().max().item<float>() > 0.1);
        }
    }

    [TestMethod]
    public void FoldingABatchNormWithoutAffineUsesUnitScaleAndZeroShift()
    {
        using var conv = nn.Conv2d(3, 5, 1, bias: false);
        using var bn = nn.BatchNorm2d(5, affine: false);
        Randomize(nn.Sequential(conv, bn), seed: 31);
        using (torch.no_grad())
        {
            bn.running_mean!.copy_(torch.linspace(-1, 1, 5));
            bn.running_var!.copy_(torch.linspace(0.5, 3, 5));
        }
        var (weight, bias) = BatchNormFolding.Fold(conv, bn);
        using (weight)
        using (bias)
        using (var x = torch.randn(1, 3, 4, 4))
        using (torch.no_grad())
        {
            using var expected = bn.call(conv.call(x));
            using var actual = torch.nn.functional.conv2d(x, weight, bias);
            Assert.IsTrue((expected - actual).abs().max().item<float>() < 1e-5);
        }
    }

    [TestMethod]
    public void FoldingRejectsABatchNormWithoutRunningStatistics()
    {
        using var conv = nn.Conv2d(3, 4, 3);
        using var bn = nn.BatchNorm2d(4, track_running_stats: false);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => BatchNormFolding.Fold(conv, bn));
        StringAssert.Contains(ex.Message, "keeps no running statistics");

        using var net = Eval(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats: false)));
        var export = Assert.ThrowsExactly<OnnxExportException>(() => OnnxExporter.BuildGraph(net, (3, 8, 8)));
        StringAssert.Contains(export.Message, "BatchNorm2d '1' keeps no running statistics");
    }

    [TestMethod]
    public void FoldingRejectsMismatchedChannelCounts()
    {
        using var conv = nn.Conv2d(3, 4, 3);
        using var bn = nn.BatchNorm2d(5);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => BatchNormFolding.Fold(conv, bn));
        StringAssert.Contains(ex.Message, "BatchNorm2d has 5 features but the Conv2d before it has 4 output channels");
    }

    [TestMethod]
    public void ExportedWeightsAreNamedAfterStateDictKeys()
    {
        using var net = Randomize(BlockParityTests.MiniResNet(), seed: 32);
        var graph = OnnxExporter.BuildGraph(net, (3, 16, 16));
        var model = MLNetExtensions.Onnx.Proto.ModelProto.Parser.ParseFrom(graph.ToBytes());
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        foreach (var key in new[] { "stem.0.weight", "stem.0.bias", "layer1.conv1.weight", "layer1.conv2.bias", "layer2.downsample.0.weight", "layer2.downsample.0.bias", "fc.weight", "fc.bias" })
            Assert.IsTrue(initializers.Contains(key), $"missing initializer '{key}'; have {string.Join(", ", initializers.Order())}");
        // The folded weights are the torch state_dict keys of the convolutions (every BN is folded away).
        var stateKeys = net.state_dict().Keys.Where(k => k.EndsWith(".weight") && !k.Contains("bn") && !k.Contains("downsample.1") && !k.StartsWith("stem.1")).ToHashSet();
        CollectionAssert.IsSubsetOf(stateKeys.ToList(), initializers.ToList());
    }
}
