using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Backbones;

/// <summary>The SSD detector's ResNet18 backbone is <see cref="ResNetBackbone"/> and takes weights from <see cref="SsdDetectorOptions.BackboneWeightsPath"/>.</summary>
[TestClass]
public sealed class SsdBackboneWeightsTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    /// <summary>A torchvision-shaped resnet18 file at width 16 (WidthMultiplier 0.25), with layer4 and an fc head.</summary>
    private static ResNetBackbone WriteWeights(string path)
    {
        var source = Randomize(new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 16 }), seed: 41);
        var state = source.state_dict()
            .Append(new KeyValuePair<string, Tensor>("fc.weight", torch.randn(10, 128)))
            .Append(new KeyValuePair<string, Tensor>("fc.bias", torch.randn(10)));
        SafetensorsFile.Save(state, path);
        return source;
    }

    private static SsdDetectorOptions Options(string? weights) => DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
    {
        Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 0.25f, BackboneWeightsPath = weights,
    };

    [TestMethod]
    public void WeightsAreLoadedWhenTheModelIsCreated()
    {
        using var folder = new TempFolder();
        using var source = WriteWeights(folder["r18.safetensors"]);
        var options = Options(folder["r18.safetensors"]);
        options.Validate();
        var model = new SsdDetectorModel(options, classCount: 3, torch.CPU);
        var loaded = model.Network.state_dict();
        var expected = source.state_dict();
        foreach (var key in new[] { "conv1.weight", "bn1.running_var", "layer2.0.downsample.0.weight", "layer3.1.conv2.weight", "layer3.1.bn2.bias" })
            Assert.IsTrue(loaded[$"backbone.resnet.{key}"].eq(expected[key]).all().item<bool>(), $"backbone.resnet.{key} was not loaded");
        Assert.IsFalse(loaded.Keys.Any(k => k.Contains("layer4", StringComparison.Ordinal)), "SSD uses layer2 and layer3; layer4 is not built");
    }

    [TestMethod]
    public void WeightsOfAnotherWidthFailNamingTheFile()
    {
        using var folder = new TempFolder();
        WriteWeights(folder["r18.safetensors"]).Dispose();
        var options = Options(folder["r18.safetensors"]) with { WidthMultiplier = 0.5f };
        var e = Assert.Throws<WeightLoadException>(() => new SsdDetectorModel(options, classCount: 3, torch.CPU));
        StringAssert.Contains(e.Message, $"The weights in '{folder["r18.safetensors"]}' do not fit the module");
        StringAssert.Contains(e.Message, "bn1.bias: file [16] vs module [32]");
        Assert.IsEmpty(e.UnexpectedKeys, "fc.* and layer4.* are skipped");
    }

    [TestMethod]
    public void BadWeightsPathFailsWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(1);
        var missing = Path.Combine(Path.GetTempPath(), "no-such-weights-" + Guid.NewGuid().ToString("N") + ".safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => ml.Transforms.TrainSsdDetector(Options(missing)));
        Assert.AreEqual($"BackboneWeightsPath '{missing}' does not exist. Give PretrainedBackbone.ImageNetResNet18, the path of a .safetensors file with torchvision resnet18 key names, or leave it null for random weights.", e.Message);

        using var folder = new TempFolder();
        File.WriteAllBytes(folder["w.safetensors"], [0]);
        var vgg = Assert.Throws<ArgumentException>(() => ml.Transforms.TrainSsdDetector(Options(folder["w.safetensors"]) with { Backbone = DetectorBackbone.VggLite }));
        Assert.AreEqual("BackboneWeightsPath", vgg.ParamName);
        StringAssert.Contains(vgg.Message, "BackboneWeightsPath loads torchvision ResNet-18 weights, but Backbone is VggLite");
    }

    [TestMethod]
    public void ResNet18SsdBackboneMatchesOnnxRuntime()
    {
        using var backbone = Randomize(new SsdBackbone(DetectorBackbone.ResNet18, 3, widthMultiplier: 0.25f), seed: 42);
        Assert.HasCount(6, backbone.OutChannels);
        BackboneOnnxParityTests.AssertExportMatches(backbone, 96, 96);
    }

    [TestMethod]
    public void TrainsAndScoresWithPretrainedResNet18()
    {
        using var folder = new TempFolder();
        WriteWeights(folder["r18.safetensors"]).Dispose();
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "val"); // the 16-image split: two batches
        var options = Options(folder["r18.safetensors"]) with { MaxSteps = 3, WarmupSteps = 1 };
        var transformer = ml.Transforms.TrainSsdDetector(options).Fit(train);
        var scored = transformer.Transform(train);
        // Three steps teach nothing; this checks that the ResNet path trains, exports and scores end to end.
        var scores = scored.GetColumn<float[]>(DetectionColumns.Scores).ToList();
        Assert.HasCount(16, scores, "one row per image");
        Assert.IsTrue(scores.All(s => s.All(float.IsFinite)), "scores are finite");
    }
}
