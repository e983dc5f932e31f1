using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

/// <summary>
/// DeepLab's torchvision backbones keep torchvision's key names, take weights from
/// <see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/>, and a frozen backbone keeps its BatchNorm statistics.
/// </summary>
[TestClass]
public sealed class DeepLabBackboneWeightsTests
{
    [TestInitialize]
    public void Init() => TorchRuntime.EnsureLoaded();

    private static string Fixture(string file) => TempFolder.Fixture(Path.Combine("Backbones", file));

    private static string[] FixtureKeys(string file) => File.ReadAllLines(Fixture(file)).Where(l => l.Length > 0).ToArray();

    /// <summary>The backbone's keys inside the DeepLab network, with the network's <c>backbone.body.</c> prefix taken off.</summary>
    private static string[] BodyKeys(DeepLabNetwork net)
    {
        var keys = net.state_dict().Keys.Where(k => k.StartsWith("backbone.", StringComparison.Ordinal)).ToArray();
        Assert.IsTrue(keys.All(k => k.StartsWith("backbone.body.", StringComparison.Ordinal)), "every backbone key is under backbone.body.");
        return keys.Select(k => k["backbone.body.".Length..]).ToArray();
    }

    private static nn.Module BodyOf(DeepLabNetwork net) => net.Backbone switch
    {
        ResNetSegmentationBackbone r => r.ResNet,
        MobileNetV2SegmentationBackbone m => m.MobileNet,
        _ => throw new AssertFailedException($"not a torchvision backbone: {net.Backbone.GetType().Name}"),
    };

    [TestMethod]
    public void ResNet18KeysAreTorchvisions()
    {
        using var net = DeepLabTorchvisionBackboneTests.Network(SegmentationBackboneKind.ResNet18, 16, 1f);
        var keys = BodyKeys(net);
        // Some of torchvision 0.14's resnet18().state_dict() keys (python3-torchvision, Debian), written out here.
        foreach (var key in new[] { "conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn1.running_mean", "layer1.1.bn2.num_batches_tracked",
                                    "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight", "layer4.1.bn2.bias" })
            CollectionAssert.Contains(keys, key);
        // The whole list, minus fc.*, as make_backbone_fixtures.py wrote it from torchvision.
        CollectionAssert.AreEquivalent(FixtureKeys("resnet18_keys.txt"), keys);
    }

    [TestMethod]
    public void MobileNetV2KeysAreTorchvisions()
    {
        using var net = DeepLabTorchvisionBackboneTests.Network(SegmentationBackboneKind.MobileNetV2, 8, 1f);
        var keys = BodyKeys(net);
        // Some of torchvision 0.14's mobilenet_v2().state_dict() keys (python3-torchvision, Debian), written out here.
        foreach (var key in new[] { "features.0.0.weight", "features.0.1.running_var", "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                                    "features.1.conv.2.running_mean", "features.2.conv.0.0.weight", "features.2.conv.1.0.weight", "features.2.conv.2.weight",
                                    "features.2.conv.3.num_batches_tracked", "features.17.conv.3.bias", "features.18.0.weight", "features.18.1.running_var" })
            CollectionAssert.Contains(keys, key);
        CollectionAssert.AreEquivalent(FixtureKeys("mobilenet_v2_keys.txt"), keys);
    }

    /// <summary>Writes the body of a randomised DeepLab backbone as a torchvision-style file (with a classifier head).</summary>
    private static DeepLabNetwork WriteWeights(SegmentationBackboneKind kind, string path, string? leaveOut = null)
    {
        var source = Randomize(DeepLabTorchvisionBackboneTests.Network(kind, 16, 0.25f), seed: 31);
        var head = kind == SegmentationBackboneKind.MobileNetV2
            ? new[] { "classifier.1.weight", "classifier.1.bias" }
            : ["fc.weight", "fc.bias"];
        var state = BodyOf(source).state_dict().Where(kv => kv.Key != leaveOut)
            .Concat(head.Select(k => new KeyValuePair<string, Tensor>(k, randn(10))));
        SafetensorsFile.Save(state, path);
        return source;
    }

    [TestMethod]
    [DataRow(SegmentationBackboneKind.ResNet18)]
    [DataRow(SegmentationBackboneKind.MobileNetV2)]
    public void WeightsSavedFromABackboneLoadIntoAFreshNetwork(SegmentationBackboneKind kind)
    {
        using var folder = new TempFolder();
        using var source = WriteWeights(kind, folder["w.safetensors"]);
        var options = new DeepLabSegmenterOptions { Backbone = kind, WidthMultiplier = 0.25f, BackboneWeightsPath = folder["w.safetensors"] };
        options.Validate();
        var backbone = SegmentationBackboneFactory.Create(options, 3);
        using var fresh = new DeepLabNetwork(backbone, 4, options.Normalization, asppChannels: 32, lowLevelProjection: 16);
        fresh.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        manual_seed(3);
        var x = randn(2, 3, 64, 64);
        var (lowSource, highSource) = ((nn.Module<Tensor, (Tensor, Tensor)>)source.Backbone).call(x);
        var (low, high) = ((nn.Module<Tensor, (Tensor, Tensor)>)backbone).call(x);
        Assert.IsTrue(low.IsSameAs(lowSource) && high.IsSameAs(highSource), "the loaded backbone computes what the saved one did");
        Assert.IsGreaterThan(1e-2, highSource.abs().max().item<float>());
        // Only the backbone came from the file: the heads differ (so the comparison above could fail).
        Assert.IsFalse(fresh.call(x * 100 + 128).IsSameAs(source.call(x * 100 + 128)));
    }

    [TestMethod]
    public void AFileWithAMissingKeyFailsNamingTheFileAndTheKey()
    {
        using var folder = new TempFolder();
        var path = folder["w.safetensors"];
        WriteWeights(SegmentationBackboneKind.ResNet18, path, leaveOut: "layer1.0.bn1.running_mean").Dispose();
        var options = new DeepLabSegmenterOptions { Backbone = SegmentationBackboneKind.ResNet18, WidthMultiplier = 0.25f, BackboneWeightsPath = path };
        options.Validate();
        var e = Assert.ThrowsExactly<WeightLoadException>(() => SegmentationBackboneFactory.Create(options, 3));
        Assert.AreEqual($"The weights in '{path}' do not fit the module: 1 missing key(s) (layer1.0.bn1.running_mean). " +
                        "Check that the file was saved from the same architecture and width (torchvision key names), " +
                        "skip extra heads with WeightLoadOptions.IgnoredPrefixes (e.g. \"fc.\"), or set AllowMissing to keep the module's own values for keys the file lacks.",
                        e.Message);
        CollectionAssert.AreEqual(new[] { "layer1.0.bn1.running_mean" }, e.MissingKeys.ToArray());
        Assert.IsEmpty(e.UnexpectedKeys, "fc.* is skipped");

        var wider = options with { WidthMultiplier = 0.5f, BackboneWeightsPath = folder["w2.safetensors"] };
        WriteWeights(SegmentationBackboneKind.ResNet18, wider.BackboneWeightsPath).Dispose();
        var shapes = Assert.ThrowsExactly<WeightLoadException>(() => SegmentationBackboneFactory.Create(wider, 3));
        StringAssert.Contains(shapes.Message, "bn1.bias: file [16] vs module [32]");
    }

    /// <summary>
    /// TestData/Backbones/mobilenet_v2_w025_os16.* are torchvision's own mobilenet_v2(width_mult=0.25).features dilated
    /// to output stride 16 (make_backbone_fixtures.py, python3-torchvision 0.14), with random weights and the eval-mode
    /// maps after features.3 and features.18 of a fixed input: DeepLab's low- and high-level features.
    /// </summary>
    [TestMethod]
    public void TorchvisionMobileNetV2WeightsGiveTorchvisionsFeatures()
    {
        var options = new DeepLabSegmenterOptions
        {
            Backbone = SegmentationBackboneKind.MobileNetV2, WidthMultiplier = 0.25f, OutputStride = 16,
            BackboneWeightsPath = Fixture("mobilenet_v2_w025_os16.weights.safetensors"),
        };
        options.Validate();
        var backbone = (MobileNetV2SegmentationBackbone)SegmentationBackboneFactory.Create(options, 3);
        backbone.eval();
        var io = SafetensorsFile.Open(Fixture("mobilenet_v2_w025_os16.io.safetensors"));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (low, high) = backbone.call(io.ReadTensor("input"));
        foreach (var (ours, key) in new[] { (low, "features.0"), (high, "features.3") })
        {
            var expected = io.ReadTensor(key);
            CollectionAssert.AreEqual(expected.shape, ours.shape, key);
            Assert.IsLessThanOrEqualTo(1e-4, (ours - expected).abs().max().item<float>(), key);
        }
    }

    [TestMethod]
    public void BadWeightsPathFailsWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(1);
        var missing = Path.Combine(Path.GetTempPath(), "no-such-weights-" + Guid.NewGuid().ToString("N") + ".safetensors");
        var options = new DeepLabSegmenterOptions { Backbone = SegmentationBackboneKind.MobileNetV2, BackboneWeightsPath = missing };
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Transforms.TrainDeepLabSegmenter(options));
        Assert.AreEqual($"BackboneWeightsPath '{missing}' does not exist. Give the path of a .safetensors file with torchvision mobilenet_v2 key names, or leave it null for random weights.", e.Message);

        var lite = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainDeepLabSegmenter(options with
        {
            Backbone = SegmentationBackboneKind.ResNetLite, BackboneWeightsPath = Fixture("mobilenet_v2_w025_os16.weights.safetensors"),
        }));
        Assert.AreEqual("BackboneWeightsPath", lite.ParamName);
        StringAssert.StartsWith(lite.Message, "BackboneWeightsPath loads torchvision weights, but Backbone is ResNetLite, which has no torchvision counterpart; set Backbone to ResNet18, ResNet34, ResNet50 or MobileNetV2, or leave BackboneWeightsPath null.");
    }

    [TestMethod]
    [DataRow(SegmentationBackboneKind.ResNet18)]
    [DataRow(SegmentationBackboneKind.MobileNetV2)]
    public void FrozenBackboneKeepsItsBatchNormStatistics(SegmentationBackboneKind kind)
    {
        using var scope = NewDisposeScope();
        using var net = Randomize(DeepLabTorchvisionBackboneTests.Network(kind, 16, 0.25f), seed: 7);
        net.Freeze();
        var backbone = (nn.Module)net.Backbone;
        var before = DeepLabNetworkTests.BatchNormStats(backbone);
        var weightsBefore = backbone.parameters().Select(p => p.clone()).ToList();
        var asppBefore = DeepLabNetworkTests.BatchNormStats(net.Aspp);

        DeepLabNetworkTests.TrainSteps(net, 2);

        var after = DeepLabNetworkTests.BatchNormStats(backbone);
        Assert.IsGreaterThan(10, before.Count);
        for (int i = 0; i < before.Count; i++)
            Assert.IsTrue(before[i].Mean.IsSameAs(after[i].Mean) && before[i].Var.IsSameAs(after[i].Var), $"running statistics of {before[i].Name} changed");
        foreach (var (w0, w1) in weightsBefore.Zip(backbone.parameters()))
            Assert.IsTrue(w0.IsSameAs(w1), "frozen weights changed");
        Assert.IsTrue(backbone.modules().OfType<BatchNorm>().All(m => !m.training), "every backbone BatchNorm stays in eval mode while the network trains");
        Assert.IsTrue(asppBefore.Zip(DeepLabNetworkTests.BatchNormStats(net.Aspp)).Any(p => !p.First.Mean.IsSameAs(p.Second.Mean)), "the head trained");
    }

    [TestMethod]
    [DataRow(SegmentationBackboneKind.ResNet18, "layer1", "stem, layer1", "layer2.")]
    [DataRow(SegmentationBackboneKind.MobileNetV2, "features.3", "features.0, features.1, features.2, features.3", "features.4.")]
    public void FreezingUpToAStageFreezesTheStagesBeforeIt(SegmentationBackboneKind kind, string upTo, string frozen, string firstTrainingPrefix)
    {
        using var scope = NewDisposeScope();
        using var net = Randomize(DeepLabTorchvisionBackboneTests.Network(kind, 16, 0.25f), seed: 8);
        net.Freeze(upTo);
        Assert.AreEqual(frozen, string.Join(", ", net.FrozenStages));
        var body = BodyOf(net);
        var before = DeepLabNetworkTests.BatchNormStats(body);
        DeepLabNetworkTests.TrainSteps(net, 1);
        var after = DeepLabNetworkTests.BatchNormStats(body);
        var frozenPrefixes = net.FrozenStages.Select(s => s == "stem" ? "bn1" : s + ".").ToArray();
        for (int i = 0; i < before.Count; i++)
        {
            bool isFrozen = frozenPrefixes.Any(p => before[i].Name.StartsWith(p, StringComparison.Ordinal));
            Assert.AreEqual(isFrozen, before[i].Mean.IsSameAs(after[i].Mean), before[i].Name);
        }
        Assert.IsTrue(body.named_modules().Where(m => m.name.StartsWith(firstTrainingPrefix, StringComparison.Ordinal)).All(m => m.module.training));
        var ex = Assert.ThrowsExactly<ArgumentException>(() => net.Freeze("layer9"));
        StringAssert.StartsWith(ex.Message, $"The backbone has no stage 'layer9'. Its stages are: {string.Join(", ", net.Backbone.StageNames)}.");
    }

    /// <summary>
    /// Through the estimator: the torchvision MobileNetV2 fixture loads before training, and with FreezeBackbone two
    /// training steps leave every backbone tensor (BatchNorm statistics included) as the file has it, while the head trains.
    /// </summary>
    [TestMethod]
    public void TrainingWithAFrozenPretrainedBackboneKeepsTheFilesWeights()
    {
        var ml = new MLContext(1);
        var data = DeepLabTrainingTests.Load(ml, "val");
        var path = Fixture("mobilenet_v2_w025_os16.weights.safetensors");
        var options = DeepLabTrainingTests.TinyOptions() with
        {
            Backbone = SegmentationBackboneKind.MobileNetV2, OutputStride = 16, BackboneWeightsPath = path, FreezeBackbone = true,
            MaxSteps = 2, BatchSize = 4, CpuThreads = 1,
        };
        var estimator = ml.Transforms.TrainDeepLabSegmenter(options);
        var model = estimator.Fit(data);
        var net = estimator.LastNetwork!;
        var file = SafetensorsFile.Open(path);
        var state = net.state_dict();
        using var scope = NewDisposeScope();
        foreach (var key in file.Entries.Keys)
            Assert.IsTrue(state[$"backbone.body.{key}"].IsSameAs(file.ReadTensor(key).to(ScalarType.Float32)), $"backbone.body.{key} differs from the file after training");
        Assert.HasCount(file.Entries.Count, state.Keys.Where(k => k.StartsWith("backbone.", StringComparison.Ordinal)).ToArray(), "every backbone tensor came from the file");
        Assert.AreEqual(string.Join(", ", net.Backbone.StageNames), string.Join(", ", net.FrozenStages));
        Assert.HasCount(2, estimator.LastHistory!.Losses["total"]);
        var masks = model.Transform(data).GetColumn<byte[]>(MLNetExtensions.Data.SegmentationColumns.PredictedMask).Take(2).ToList();
        Assert.HasCount(2, masks);
    }
}
