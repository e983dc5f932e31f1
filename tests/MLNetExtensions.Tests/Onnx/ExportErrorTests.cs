using MLNetExtensions.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>What cannot be exported fails at export with a message naming the module and what to do.</summary>
[TestClass]
public sealed class ExportErrorTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void AModelInTrainingModeIsRejected()
    {
        using var net = BlockParityTests.MiniResNet();
        var ex = Assert.ThrowsExactly<OnnxExportException>(() => OnnxExporter.BuildGraph(net, (3, 16, 16)));
        StringAssert.Contains(ex.Message, "'(root)' (Sequential) is in training mode. Call eval() on the model before exporting");
    }

    [TestMethod]
    public void AChildLeftInTrainingModeIsNamedByPath()
    {
        using var net = Eval(BlockParityTests.MiniResNet());
        var layer2 = (ResidualBlock)net.named_children().Single(c => c.name == "layer2").module;
        layer2.train();
        var ex = Assert.ThrowsExactly<OnnxExportException>(() => OnnxExporter.BuildGraph(net, (3, 16, 16)));
        StringAssert.Contains(ex.Message, "'layer2' (ResidualBlock) is in training mode");

        // Calling a block's Export directly checks it too.
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 8, 8, 8);
        var direct = Assert.ThrowsExactly<OnnxExportException>(() => layer2.Export(g, x));
        StringAssert.Contains(direct.Message, "is in training mode");
    }

    [TestMethod]
    public void AnUnsupportedModuleIsNamedWithWhatToDo()
    {
        using var net = Eval(nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("act", nn.GELU())));
        var ex = Assert.ThrowsExactly<OnnxExportException>(() => OnnxExporter.BuildGraph(net, (3, 8, 8)));
        StringAssert.Contains(ex.Message, "'act' is a TorchSharp.Modules.GELU, which cannot be exported to ONNX");
        StringAssert.Contains(ex.Message, "Implement IOnnxExportable on it");
    }

    [TestMethod]
    public void UnsupportedSettingsAreRejected()
    {
        AssertRejected(nn.Sequential(("pool", nn.AdaptiveAvgPool2d(2))), "AdaptiveAvgPool2d 'pool' has output size (2, 2); ONNX export supports output size 1");
        AssertRejected(nn.Sequential(("conv", nn.Conv2d(3, 3, 3, padding: 1, padding_mode: PaddingModes.Reflect))), "Conv2d 'conv' pads with Reflect; ONNX export supports zero padding only");
        AssertRejected(nn.Sequential(("up", nn.Upsample(scale_factor: [2.0], mode: UpsampleMode.Bilinear, align_corners: true))), "Upsample 'up' sets align_corners: true");
        AssertRejected(nn.Sequential(("up", nn.Upsample(scale_factor: [2.0], mode: UpsampleMode.Bicubic))), "Upsample 'up' uses mode Bicubic");
        AssertRejected(nn.Sequential(("pool", nn.AvgPool2d(2, divisor_override: 3))), "AvgPool2d 'pool' sets divisor_override");
        AssertRejected(nn.Sequential(("flat", nn.Flatten(2))), "Flatten 'flat' flattens axes 2..-1; ONNX export supports start_dim 1 to the last axis only");
    }

    [TestMethod]
    public void MetadataForAnotherInputSizeIsRejected()
    {
        using var net = Eval(nn.Sequential(nn.Conv2d(3, 4, 3)));
        var metadata = new OnnxModelMetadata(OnnxModelKind.Classification, ["a", "b"], 3, 32, 32);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => OnnxExporter.BuildGraph(net, (3, 16, 16), metadata));
        StringAssert.Contains(ex.Message, "The metadata describes 3×32×32 inputs, but the export input shape is 3×16×16.");
    }

    [TestMethod]
    public void BlockConstructorsCheckTheirArguments()
    {
        var groups = Assert.ThrowsExactly<ArgumentException>(() => new ConvBnAct(6, 8, groups: 4));
        StringAssert.Contains(groups.Message, "groups (4) must divide both inChannels (6) and outChannels (8)");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Upsample(0.0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResidualBlock(4, 4, stride: 0));
        var empty = Assert.ThrowsExactly<ArgumentException>(() => new ConcatBranches());
        StringAssert.Contains(empty.Message, "At least one branch is needed.");
    }

    private static void AssertRejected(nn.Module<Tensor, Tensor> module, string expected)
    {
        using (module)
        {
            module.eval();
            var ex = Assert.ThrowsExactly<OnnxExportException>(() => OnnxExporter.BuildGraph(module, (3, 8, 8)));
            StringAssert.Contains(ex.Message, expected);
        }
    }
}
