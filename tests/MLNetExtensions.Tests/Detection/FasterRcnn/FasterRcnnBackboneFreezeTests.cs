using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>
/// <c>FreezeBackbone</c> / <c>FreezeBackboneUpTo</c> on the detectors (torchvision's <c>trainable_backbone_layers</c>):
/// through <c>Fit</c>, the frozen stages of the ImageNet ResNet-18 (weights and BatchNorm statistics) come out of training
/// bit for bit as loaded, while the next stage trains; a bad stage name fails when the estimator is made.
/// </summary>
[TestClass]
public sealed class FasterRcnnBackboneFreezeTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    private static FasterRcnnDetectorOptions ImageNetOptions(string folder) => FasterRcnnOnnxParityTests.TinyOptions() with
    {
        Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f, BackboneWeightsPath = PretrainedBackbone.ImageNetResNet18,
        Normalization = PixelNormalization.ImageNetMeanSubtraction,
        FreezeBackbone = true, FreezeBackboneUpTo = "layer1",
        MaxSteps = 4, WarmupSteps = 1, CheckpointFolder = folder, CheckpointEverySteps = 4,
    };

    [TestMethod]
    public void FitLeavesTheFrozenStagesAsLoadedAndTrainsTheRest()
    {
        using var folder = new TempFolder();
        var ml = new MLContext(1);
        var options = ImageNetOptions(folder.Path);
        ml.Transforms.TrainFasterRcnnDetector(options).Fit(DetectorTrainingTests.Load(ml, "train"));

        // The network as created (ImageNet weights loaded) against the one the last checkpoint saved.
        using var loaded = new FasterRcnnDetectorModel(options, SyntheticShapesDataset.ClassNames.Count, CPU).Network;
        using var trained = new FasterRcnnDetectorModel(options, SyntheticShapesDataset.ClassNames.Count, CPU).Network;
        var checkpoint = Directory.GetFiles(folder.Path, "model.bin", SearchOption.AllDirectories).Single();
        trained.load(checkpoint);
        var before = loaded.state_dict();
        var after = trained.state_dict();
        int frozen = 0, moved = 0;
        foreach (var (key, value) in before)
        {
            if (!key.Contains("resnet.", StringComparison.Ordinal) || key.EndsWith("num_batches_tracked", StringComparison.Ordinal)) continue;
            bool same = value.eq(after[key]).all().item<bool>();
            string stage = key.Split("resnet.")[1];
            if (stage.StartsWith("conv1.", StringComparison.Ordinal) || stage.StartsWith("bn1.", StringComparison.Ordinal) || stage.StartsWith("layer1.", StringComparison.Ordinal))
            {
                Assert.IsTrue(same, $"{key} is in a frozen stage but changed in training");
                frozen++;
            }
            else if (stage.StartsWith("layer2.", StringComparison.Ordinal) && !same) moved++;
        }
        // conv1.weight and bn1's weight, bias, running mean and variance; layer1's two blocks of two convolutions and two BatchNorms.
        Assert.AreEqual(1 + 4 + 2 * (2 * 1 + 2 * 4), frozen, "tensors of the frozen stages compared");
        Assert.IsGreaterThan(10, moved, "layer2 is trained, so most of its tensors (weights and BatchNorm statistics) moved");
    }

    [TestMethod]
    public void FrozenStagesStayInEvalModeWhenTheNetworkTrains()
    {
        var model = new FasterRcnnDetectorModel(FasterRcnnOnnxParityTests.TinyOptions() with { Backbone = DetectorBackbone.ResNet18 }, 3, CPU);
        var backbone = model.Network.modules().OfType<SsdBackbone>().Single();
        backbone.Freeze("layer1");
        CollectionAssert.AreEqual(new[] { "stem", "layer1" }, backbone.FrozenStages.ToArray());
        model.Network.eval();
        model.Network.train();
        var modes = model.Network.named_modules().Where(m => m.name.Contains("resnet.", StringComparison.Ordinal)).ToDictionary(m => m.name.Split("resnet.")[1], m => m.module);
        Assert.IsFalse(modes["bn1"].training, "the stem's BatchNorm must stay in eval mode");
        Assert.IsFalse(modes["layer1.0.bn1"].training, "layer1's BatchNorm must stay in eval mode");
        Assert.IsTrue(modes["layer2.0.bn1"].training, "layer2 is not frozen");
        Assert.IsTrue(model.Network.named_parameters().Where(p => p.name.Contains("resnet.layer1.", StringComparison.Ordinal)).All(p => !p.parameter.requires_grad));
        Assert.IsTrue(model.Network.named_parameters().Where(p => p.name.Contains("resnet.layer2.", StringComparison.Ordinal)).All(p => p.parameter.requires_grad));
    }

    [TestMethod]
    public void AnUnknownStageFailsWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(1);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainFasterRcnnDetector(
            FasterRcnnOnnxParityTests.TinyOptions() with { Backbone = DetectorBackbone.ResNet18, FreezeBackbone = true, FreezeBackboneUpTo = "layer4" }));
        Assert.AreEqual("FreezeBackboneUpTo is 'layer4', but the ResNet18 backbone has no such stage. Its stages are: stem, layer1, layer2, layer3. (Parameter 'FreezeBackboneUpTo')", e.Message);
        var ssd = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainSsdDetector(DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { FreezeBackboneUpTo = "body" }));
        Assert.AreEqual("FreezeBackboneUpTo ('body') is set but FreezeBackbone is false; set both to freeze part of the backbone. (Parameter 'FreezeBackboneUpTo')", ssd.Message);
    }
}
