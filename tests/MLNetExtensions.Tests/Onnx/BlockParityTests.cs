using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>Every exportable block: ONNX Runtime on the exported model equals the TorchSharp eval forward.</summary>
[TestClass]
public sealed class BlockParityTests
{
    [TestInitialize]
    public void LoadTorch() => MLNetExtensions.Torch.TorchRuntime.EnsureLoaded();

    [TestMethod]
    [DataRow(Activation.None)]
    [DataRow(Activation.ReLU)]
    [DataRow(Activation.ReLU6)]
    [DataRow(Activation.LeakyReLU)]
    [DataRow(Activation.Sigmoid)]
    [DataRow(Activation.Tanh)]
    public void ConvBnActMatchesForEveryActivation(Activation activation)
    {
        using var block = Randomize(new ConvBnAct(4, 8, kernelSize: 3, activation: activation, negativeSlope: 0.2), seed: 1);
        var model = AssertExportMatches(block, 4, 9, 11);
        // BatchNorm is folded into the convolution: one Conv, no BatchNormalization node.
        CollectionAssert.DoesNotContain(OpTypes(model), "BatchNormalization");
        Assert.AreEqual(1, OpTypes(model).Count(op => op == "Conv"));
    }

    [TestMethod]
    public void ConvBnActWithStrideDilationGroupsAndNoNormMatches()
    {
        using var strided = Randomize(new ConvBnAct(6, 12, kernelSize: 3, stride: 2, dilation: 2, groups: 3, activation: Activation.ReLU6), seed: 2);
        AssertExportMatches(strided, 6, 13, 10);
        using var plain = Randomize(new ConvBnAct(3, 5, kernelSize: 1, batchNorm: false, activation: Activation.LeakyReLU), seed: 3);
        Assert.IsNull(plain.BatchNorm);
        Assert.IsNotNull(plain.Conv.bias);
        AssertExportMatches(plain, 3, 7, 7);
    }

    [TestMethod]
    public void DepthwiseSeparableConvMatches()
    {
        using var block = Randomize(new DepthwiseSeparableConv(8, 16, stride: 2), seed: 4);
        var model = AssertExportMatches(block, 8, 12, 12);
        var ops = OpTypes(model);
        Assert.AreEqual(2, ops.Count(op => op == "Conv"));
        using var linearBottleneck = Randomize(new DepthwiseSeparableConv(6, 4, activation: Activation.ReLU6, pointwiseActivation: Activation.None), seed: 5);
        AssertExportMatches(linearBottleneck, 6, 8, 8);
    }

    [TestMethod]
    public void ResidualBlockMatchesWithAndWithoutDownsample()
    {
        using var identity = Randomize(new ResidualBlock(8, 8), seed: 6);
        Assert.IsFalse(identity.HasDownsample);
        AssertExportMatches(identity, 8, 10, 10);

        using var projected = Randomize(new ResidualBlock(8, 16, stride: 2), seed: 7);
        Assert.IsTrue(projected.HasDownsample);
        var model = AssertExportMatches(projected, 8, 11, 9);
        Assert.AreEqual(3, OpTypes(model).Count(op => op == "Conv"), "conv1, conv2 and the downsample, each with its BatchNorm folded in");

        using var dilated = Randomize(new ResidualBlock(4, 4, dilation: 2), seed: 8);
        AssertExportMatches(dilated, 4, 9, 9);
    }

    [TestMethod]
    public void GlobalAvgPoolMatchesWithAndWithoutFlatten()
    {
        using var keep = new GlobalAvgPool();
        keep.eval();
        AssertExportMatches(keep, 5, 6, 7);
        using var flat = new GlobalAvgPool(flatten: true);
        flat.eval();
        AssertExportMatches(flat, 5, 6, 7);
    }

    [TestMethod]
    public void UpsampleMatchesByScaleAndToSize()
    {
        foreach (var module in new Upsample[] { new(2.0), new(13, 17), new(2.0, OnnxResizeMode.Nearest), new(9, 4, OnnxResizeMode.Nearest) })
        {
            using (module)
            {
                module.eval();
                AssertExportMatches(module, 3, 5, 6);
            }
        }
    }

    [TestMethod]
    public void ConcatBranchesMatchesAnAsppLikeBlock()
    {
        using var block = Randomize(new ConcatBranches(
            new ConvBnAct(4, 6, kernelSize: 1),
            new ConvBnAct(4, 6, kernelSize: 3, dilation: 2),
            new ConvBnAct(4, 6, kernelSize: 3, dilation: 3)), seed: 9);
        var model = AssertExportMatches(block, 4, 12, 12);
        Assert.AreEqual(1, OpTypes(model).Count(op => op == "Concat"));
    }

    [TestMethod]
    public void TorchSequentialOfBuiltInModulesMatchesAndFoldsConvBatchNormPairs()
    {
        // A VGG-BN-style stage written with TorchSharp's own modules, as torchvision's `features` are.
        using var features = Randomize(nn.Sequential(
            nn.Conv2d(3, 8, 3, padding: 1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding: 1), nn.ReLU6(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4), nn.LeakyReLU(0.1),
            nn.AvgPool2d(3, stride: 1, padding: 1),
            nn.Dropout(0.5)), seed: 10);
        var model = AssertExportMatches(features, 3, 12, 10);
        var ops = OpTypes(model);
        CollectionAssert.DoesNotContain(ops, "BatchNormalization");
        Assert.AreEqual(3, ops.Count(op => op == "Conv"));
    }

    [TestMethod]
    public void MiniResNetMatchesEndToEnd()
    {
        using var net = Randomize(MiniResNet(), seed: 11);
        var model = AssertExportMatches(net, 3, 32, 32);
        var ops = OpTypes(model);
        CollectionAssert.Contains(ops, "Gemm", "the Linear after a flattening pool is a Gemm");
        CollectionAssert.DoesNotContain(ops, "BatchNormalization");
    }

    [TestMethod]
    public void MobileNetV2StyleStackMatches()
    {
        using var net = Randomize(nn.Sequential(
            new ConvBnAct(3, 8, stride: 2, activation: Activation.ReLU6),
            new DepthwiseSeparableConv(8, 12, stride: 2, activation: Activation.ReLU6, pointwiseActivation: Activation.None),
            new ConvBnAct(12, 16, kernelSize: 1, activation: Activation.ReLU6),
            new Upsample(4.0)), seed: 12);
        AssertExportMatches(net, 3, 24, 20);
    }

    /// <summary>Stem, two residual blocks, global pooling and a classifier: the shape of ResNet-18 in miniature.</summary>
    internal static nn.Module<Tensor, Tensor> MiniResNet() => nn.Sequential(
        ("stem", new ConvBnAct(3, 8, kernelSize: 3, stride: 2)),
        ("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1)),
        ("layer1", new ResidualBlock(8, 8)),
        ("layer2", new ResidualBlock(8, 16, stride: 2)),
        ("avgpool", new GlobalAvgPool(flatten: true)),
        ("fc", nn.Linear(16, 10)));
}
