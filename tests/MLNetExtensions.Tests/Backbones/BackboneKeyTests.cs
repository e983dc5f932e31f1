using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;

namespace MLNetExtensions.Tests.Backbones;

/// <summary>
/// The backbones' state_dict keys are torchvision's. The expected lists (TestData/Backbones/*_keys.txt) were written
/// once by make_backbone_fixtures.py from Debian's python3-torchvision 0.14 (resnet18 minus fc.*, mobilenet_v2 minus
/// classifier.*).
/// </summary>
[TestClass]
public sealed class BackboneKeyTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    private static string[] ExpectedKeys(string file) =>
        File.ReadAllLines(TempFolder.Fixture(Path.Combine("Backbones", file))).Where(l => l.Length > 0).ToArray();

    [TestMethod]
    public void ResNet18KeysAreTorchvisionsWithoutFc()
    {
        using var backbone = new ResNetBackbone(ResNetBackboneOptions.ResNet18);
        var expected = ExpectedKeys("resnet18_keys.txt");
        Assert.HasCount(120, expected);
        CollectionAssert.AreEquivalent(expected, backbone.state_dict().Keys.ToArray());
        CollectionAssert.AreEqual(new long[] { 64, 128, 256, 512 }, backbone.OutChannels);
        CollectionAssert.AreEqual(new long[] { 4, 8, 16, 32 }, backbone.OutStrides);
    }

    [TestMethod]
    public void MobileNetV2KeysAreTorchvisionsWithoutClassifier()
    {
        using var backbone = new MobileNetV2Backbone(new MobileNetV2BackboneOptions());
        var expected = ExpectedKeys("mobilenet_v2_keys.txt");
        CollectionAssert.AreEquivalent(expected, backbone.state_dict().Keys.ToArray());
        CollectionAssert.AreEqual(new long[] { 24, 32, 96, 1280 }, backbone.OutChannels);
        CollectionAssert.AreEqual(new long[] { 4, 8, 16, 32 }, backbone.OutStrides);
    }

    [TestMethod]
    public void ResNet50HasBottleneckKeysAndWidths()
    {
        using var backbone = new ResNetBackbone(ResNetBackboneOptions.ResNet50 with { BaseWidth = 8 });
        var keys = backbone.state_dict().Keys.ToHashSet();
        foreach (var key in new[] { "layer1.0.conv3.weight", "layer1.0.bn3.running_var", "layer1.0.downsample.0.weight", "layer3.5.conv2.weight", "layer4.2.bn3.bias" })
            Assert.Contains(key, keys);
        Assert.DoesNotContain("layer1.1.downsample.0.weight", keys);
        Assert.DoesNotContain("layer3.6.conv1.weight", keys);
        CollectionAssert.AreEqual(new long[] { 32, 64, 128, 256 }, backbone.OutChannels);
    }

    [TestMethod]
    public void DilationChangesStridesNotKeys()
    {
        using var plain = new ResNetBackbone(ResNetBackboneOptions.ResNet18);
        using var os8 = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { ReplaceStrideWithDilation = [false, true, true] });
        CollectionAssert.AreEquivalent(plain.state_dict().Keys.ToArray(), os8.state_dict().Keys.ToArray());
        CollectionAssert.AreEqual(new long[] { 4, 8, 8, 8 }, os8.OutStrides);
        using var mobile16 = new MobileNetV2Backbone(new MobileNetV2BackboneOptions { OutputStride = 16 });
        CollectionAssert.AreEqual(new long[] { 4, 8, 16, 16 }, mobile16.OutStrides);
        using var mobile8 = new MobileNetV2Backbone(new MobileNetV2BackboneOptions { OutputStride = 8 });
        CollectionAssert.AreEqual(new long[] { 4, 8, 8, 8 }, mobile8.OutStrides);
    }

    [TestMethod]
    public void StagesLeaveOutLaterLayers()
    {
        using var three = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { Stages = 3 });
        Assert.IsFalse(three.state_dict().Keys.Any(k => k.StartsWith("layer4.", StringComparison.Ordinal)));
        CollectionAssert.AreEqual(new long[] { 64, 128, 256 }, three.OutChannels);
        using var x = TorchSharp.torch.zeros(1, 3, 64, 64);
        var maps = three.call(x);
        Assert.HasCount(3, maps);
        CollectionAssert.AreEqual(new long[] { 1, 256, 4, 4 }, maps[2].shape);
        foreach (var m in maps) m.Dispose();
    }

    [TestMethod]
    public void BadOptionsAreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { Layers = [2, 2, 2] }));
        Assert.AreEqual("Layers", e.ParamName);
        StringAssert.Contains(e.Message, "four block counts");
        var d = Assert.Throws<ArgumentException>(() => new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { ReplaceStrideWithDilation = [true] }));
        Assert.AreEqual("ReplaceStrideWithDilation", d.ParamName);
        var s = Assert.Throws<ArgumentOutOfRangeException>(() => new MobileNetV2Backbone(new MobileNetV2BackboneOptions { OutputStride = 4 }));
        Assert.AreEqual("OutputStride", s.ParamName);
    }

    [TestMethod]
    public void MakeDivisibleMatchesTorchvision()
    {
        // torchvision.models._utils._make_divisible(v, 8) for these v: 8, 8, 8, 24, 40, 16, 1280 (python3-torchvision 0.14).
        var values = new[] { 4.0, 8.0, 6.0, 24.0, 36.0, 9.6, 1280.0 }; // 9.6: rounding down to 8 would lose over 10%, so 16
        CollectionAssert.AreEqual(new long[] { 8, 8, 8, 24, 40, 16, 1280 }, values.Select(v => MobileNetV2Backbone.MakeDivisible(v)).ToArray());
    }
}
