using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// What each backbone costs to train, at the quickstarts' settings, in one process, alternating, medians: SSD at
/// 128 px, batch 8, on the quickstart's VggLite ×0.5 (the baseline) and on the full-width ResNet-18 that ImageNet
/// weights need; DeepLab v3+ at 64 px, batch 8, on the quickstart's ResNetLite ×0.5 (the baseline), on ResNet-18, and
/// on ResNet-18 from the ImageNet weights with the backbone frozen (no backward through it). Also parameter counts.
/// </summary>
public sealed class BackboneCostBenchmark : IBenchmark
{
    private const int Batch = 8, Warmup = 2, Rounds = 5;

    public string Name => "backbones";
    public string Description => "training img/s per backbone at the quickstarts' settings (SSD 128 px, DeepLab 64 px), against the quickstarts' own";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        string? imageNet = PretrainedBackbone.FindImageNetResNet18();
        if (imageNet is null) output.WriteLine("  (ImageNet ResNet-18 not found: the frozen DeepLab row uses random weights, which costs the same)");

        // SSD, as the detection quickstart trains it.
        var vgg = new SsdDetectorOptions { InputWidth = 128, InputHeight = 128, GridSize = 8, WidthMultiplier = 0.5f, TopDownFusion = true, IgnoreIouThreshold = 0.3f, BatchSize = Batch };
        var resnet = vgg with { Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f };
        var data = SsdTrainingBenchmark.BuiltInTrainingSet(vgg);
        var (images, targets) = data.Batch(Enumerable.Range(0, Batch).ToArray(), null, new Random(1), CPU);
        manual_seed(1);
        var ssd = new[] { ("VggLite ×0.5 (quickstart)", new SsdDetectorModel(vgg, data.ClassNames.Length, CPU)), ("ResNet-18 ×1", new SsdDetectorModel(resnet, data.ClassNames.Length, CPU)) };
        var ssdSteps = TrainingStepTimer.AlternatingMedians(ssd.Select(m => TrainingStepTimer.Stepper(m.Item2.Network, () => m.Item2.Loss(images, targets, new Random(3)).Total)).ToArray(), Warmup, Rounds);
        output.WriteLine($"SSD, 128×128, batch {Batch}:");
        for (int i = 0; i < ssd.Length; i++)
            output.WriteLine($"  {ssd[i].Item1,-36} {Batch / ssdSteps[i],6:F1} img/s  {Parameters(ssd[i].Item2.Network) / 1e6,5:F2} M parameters  step cost {ssdSteps[i] / ssdSteps[0]:F2}x the quickstart's");

        // DeepLab v3+, as the segmentation quickstart trains it.
        var lite = new DeepLabSegmenterOptions { ClassNames = ["background", "a", "b", "c", "d", "e"], InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, AsppChannels = 64, LowLevelChannels = 32 };
        var r18 = lite with { Backbone = SegmentationBackboneKind.ResNet18, WidthMultiplier = 1f };
        var frozen = r18 with { BackboneWeightsPath = imageNet, Normalization = imageNet is null ? lite.Normalization : PixelNormalization.ImageNetMeanSubtraction, FreezeBackbone = true };
        var nets = new[] { ("ResNetLite ×0.5 (quickstart)", lite), ("ResNet-18 ×1", r18), ("ImageNet ResNet-18, frozen", frozen) }
            .Select(n => (n.Item1, Network(n.Item2))).ToArray();
        manual_seed(2);
        var pixels = rand(Batch, 3, 64, 64) * 255;
        var masks = randint(0, 6, [Batch, 64, 64]);
        var segSteps = TrainingStepTimer.AlternatingMedians(nets.Select(n => TrainingStepTimer.Stepper(n.Item2, () => nn.functional.cross_entropy(n.Item2.call(pixels), masks))).ToArray(), Warmup, Rounds);
        output.WriteLine($"DeepLab v3+, 64×64, batch {Batch}, output stride 16:");
        for (int i = 0; i < nets.Length; i++)
            output.WriteLine($"  {nets[i].Item1,-36} {Batch / segSteps[i],6:F1} img/s  {Parameters(nets[i].Item2) / 1e6,5:F2} M parameters ({Trainable(nets[i].Item2) / 1e6:F2} M trained)  step cost {segSteps[i] / segSteps[0]:F2}x the quickstart's");
        output.WriteLine($"SSD step cost of ResNet-18 against the quickstart's VggLite ×0.5: {ssdSteps[1] / ssdSteps[0]:F2}");
    }

    private static DeepLabNetwork Network(DeepLabSegmenterOptions o)
    {
        var net = new DeepLabNetwork(SegmentationBackboneFactory.Create(o, 3), o.ClassNames!.Count, o.Normalization, o.AtrousRates, o.AsppChannels, o.LowLevelChannels, o.Dropout);
        if (o.FreezeBackbone) net.Freeze();
        return net;
    }

    private static long Parameters(nn.Module m) => m.parameters().Sum(p => p.numel());
    private static long Trainable(nn.Module m) => m.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
}
