using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Backbones;

/// <summary>
/// Numbers against torchvision itself: TestData/Backbones/make_backbone_fixtures.py built narrow torchvision models
/// from torchvision's own blocks (python3-torch 1.13, python3-torchvision 0.14, CPU), randomised every weight and
/// BatchNorm statistic with a fixed seed, and saved the state_dict plus the eval-mode feature maps of a fixed
/// 1×3×64×64 input. Loading the file into our backbone must reproduce those maps.
/// </summary>
[TestClass]
public sealed class TorchvisionParityTests
{
    private const double Tolerance = 1e-4;

    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    private static string Fixture(string file) => TempFolder.Fixture(Path.Combine("Backbones", file));

    /// <summary>Loads NAME.weights into the backbone (every key must fit), runs NAME.io's input, compares each map.</summary>
    private static double AssertMatchesTorchvision(FeatureExtractor backbone, string name)
    {
        var report = SafetensorsWeights.LoadInto(backbone, Fixture($"{name}.weights.safetensors"));
        Assert.IsEmpty(report.MissingKeys, "every key of the backbone is in the torchvision file");
        Assert.HasCount(backbone.state_dict().Count, report.LoadedKeys);
        backbone.eval();
        var io = SafetensorsFile.Open(Fixture($"{name}.io.safetensors"));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var maps = backbone.call(io.ReadTensor("input"));
        Assert.HasCount(io.Entries.Count - 1, maps, "as many maps as torchvision's reference returned");
        double worst = 0;
        for (int k = 0; k < maps.Length; k++)
        {
            var expected = io.ReadTensor($"features.{k}");
            CollectionAssert.AreEqual(expected.shape, maps[k].shape, $"map {k} shape");
            double diff = (maps[k] - expected).abs().max().item<float>();
            double scale = expected.abs().max().item<float>();
            Assert.IsGreaterThan(1e-2, scale, $"map {k} is (almost) all zero, so the comparison proves nothing");
            Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{name} map {k}: max |ours - torchvision| = {diff:G3} (max |torchvision| = {scale:G3})");
            worst = Math.Max(worst, diff);
        }
        return worst;
    }

    [TestMethod]
    public void BasicBlockResNetMatchesTorchvision()
    {
        using var backbone = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 8 });
        var diff = AssertMatchesTorchvision(backbone, "resnet_basic_w8");
        Console.WriteLine($"ResNet-18 layout, width 8: max diff {diff:G3}");
    }

    [TestMethod]
    public void DilatedBottleneckResNetMatchesTorchvision()
    {
        // torchvision's Bottleneck, layers 1-2-1-1, replace_stride_with_dilation [False, True, True]: output stride 8.
        using var backbone = new ResNetBackbone(new ResNetBackboneOptions
        {
            Block = ResNetBlock.Bottleneck, Layers = [1, 2, 1, 1], BaseWidth = 4, ReplaceStrideWithDilation = [false, true, true],
        });
        CollectionAssert.AreEqual(new long[] { 4, 8, 8, 8 }, backbone.OutStrides);
        var diff = AssertMatchesTorchvision(backbone, "resnet_bottleneck_w4_os8");
        Console.WriteLine($"Bottleneck ResNet, output stride 8: max diff {diff:G3}");
    }

    [TestMethod]
    public void DilatedMobileNetV2MatchesTorchvision()
    {
        // torchvision's mobilenet_v2(width_mult=0.25).features, dilated to output stride 16 by the script; F16 weights.
        using var backbone = new MobileNetV2Backbone(new MobileNetV2BackboneOptions { WidthMultiplier = 0.25f, OutputStride = 16 });
        Assert.AreEqual("F16", SafetensorsFile.Open(Fixture("mobilenet_v2_w025_os16.weights.safetensors")).Entries["features.0.0.weight"].DType);
        var diff = AssertMatchesTorchvision(backbone, "mobilenet_v2_w025_os16");
        Console.WriteLine($"MobileNetV2 x0.25, output stride 16: max diff {diff:G3}");
    }
}
