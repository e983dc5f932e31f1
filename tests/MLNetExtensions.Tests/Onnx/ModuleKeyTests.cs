using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using TorchSharp;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>The blocks' state_dict keys are torchvision's, so pretrained weights load by name.</summary>
[TestClass]
public sealed class ModuleKeyTests
{
    [TestMethod]
    public void ConvBnActHasTorchvisionConv2dNormActivationKeys()
    {
        TorchRuntime.EnsureLoaded();
        using var block = new ConvBnAct(3, 8);
        CollectionAssert.AreEquivalent(
            new[] { "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked" },
            block.state_dict().Keys.ToArray());
        using var noNorm = new ConvBnAct(3, 8, batchNorm: false);
        CollectionAssert.AreEquivalent(new[] { "0.weight", "0.bias" }, noNorm.state_dict().Keys.ToArray());
    }

    [TestMethod]
    public void ResidualBlockHasTorchvisionBasicBlockKeys()
    {
        TorchRuntime.EnsureLoaded();
        using var block = new ResidualBlock(8, 16, stride: 2);
        var keys = block.state_dict().Keys.ToArray();
        foreach (var key in new[] { "conv1.weight", "bn1.weight", "bn1.running_var", "conv2.weight", "bn2.bias", "downsample.0.weight", "downsample.1.running_mean" })
            CollectionAssert.Contains(keys, key);
        Assert.AreEqual(0, keys.Count(k => k.EndsWith(".bias") && k.StartsWith("conv")), "torchvision's convolutions before a BatchNorm have no bias");
        using var identity = new ResidualBlock(8, 8);
        Assert.IsFalse(identity.state_dict().Keys.Any(k => k.StartsWith("downsample")));
    }

    [TestMethod]
    public void ComposedBlocksNestTheirKeys()
    {
        TorchRuntime.EnsureLoaded();
        using var block = new ConcatBranches(new ConvBnAct(4, 2, kernelSize: 1), new DepthwiseSeparableConv(4, 2));
        var keys = block.state_dict().Keys.ToArray();
        CollectionAssert.Contains(keys, "branches.0.0.weight");
        CollectionAssert.Contains(keys, "branches.1.depthwise.0.weight");
        CollectionAssert.Contains(keys, "branches.1.pointwise.1.running_mean");
    }
}
