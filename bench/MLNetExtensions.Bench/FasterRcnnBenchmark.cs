using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// Faster R-CNN training and scoring against SSD on the same backbone (VggLite ×0.5), in one process, alternating:
/// training images/s at 128 and 300 px with batch 4, the share of a Faster R-CNN step spent in RoI Align (forward and
/// backward) and in proposal filtering (top-k, NMS on the host), and ONNX Runtime scoring ms per image; then at 128
/// px Faster R-CNN with the feature pyramid (levels at strides 8, 16, 32) against the single stride-8 map.
/// </summary>
public sealed class FasterRcnnBenchmark : IBenchmark
{
    private const int Batch = 4, Warmup = 2, Rounds = 5;

    public string Name => "faster-rcnn";
    public string Description => "Faster R-CNN vs SSD (same backbone): training img/s at 128 and 300 px, RoI Align and NMS shares, ONNX ms/image; FPN vs one map at 128 px";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        if (Environment.GetEnvironmentVariable("FASTER_RCNN_BENCH_QUICKSTART_ONLY") == "1") { QuickstartResNet18(output); return; }
        foreach (int size in new[] { 128, 300 })
        {
            var ssdOptions = new SsdDetectorOptions { InputWidth = size, InputHeight = size, WidthMultiplier = 0.5f, BatchSize = Batch, TopDownFusion = true };
            var frcnnOptions = new FasterRcnnDetectorOptions
            {
                InputWidth = size, InputHeight = size, WidthMultiplier = 0.5f, BatchSize = Batch, FeatureStride = 8,
                AnchorSizes = size <= 128 ? [12f, 24f, 48f] : [32f, 64f, 128f], RepresentationSize = 256,
                RpnPreNmsTopNTrain = 1000, RpnPostNmsTopNTrain = 300, RpnPreNmsTopNTest = 600, RpnPostNmsTopNTest = 100, BoxBatchSizePerImage = 128,
            };
            var data = SsdTrainingBenchmark.BuiltInTrainingSet(ssdOptions);
            manual_seed(1);
            var ssd = new SsdDetectorModel(ssdOptions, data.ClassNames.Length, CPU);
            var frcnn = new FasterRcnnDetectorModel(frcnnOptions, data.ClassNames.Length, CPU);
            var (images, targets) = data.Batch(Enumerable.Range(0, Batch).ToArray(), null, new Random(1), CPU);
            var (ssdStep, frcnnStep) = StepSeconds(ssd, frcnn, images, targets);
            var (roiAlign, filter) = Parts(frcnn, frcnnOptions, images, targets);
            output.WriteLine($"  {size}×{size}, batch {Batch}: SSD (baseline) {Batch / ssdStep:F1} img/s, Faster R-CNN {Batch / frcnnStep:F1} img/s; " +
                             $"ratio {ssdStep / frcnnStep:F2}x (a Faster R-CNN step costs {frcnnStep / ssdStep:F2} SSD steps)");
            output.WriteLine($"    shares of a Faster R-CNN step: RoI Align forward+backward {roiAlign / frcnnStep:P0}, proposal filtering (top-k, host NMS) {filter / frcnnStep:P0}");
            var (ssdMs, frcnnMs) = OnnxMilliseconds(ssd, ssdOptions, frcnn, frcnnOptions, images[..1], data.ClassNames);
            output.WriteLine($"    ONNX Runtime scoring, batch 1: SSD (baseline) {ssdMs:F1} ms/image, Faster R-CNN {frcnnMs:F1} ms/image; ratio {ssdMs / frcnnMs:F2}x");
        }
        QuickstartResNet18(output);
        Pyramid(output);
    }

    /// <summary>The Faster R-CNN quickstart's step (ResNet-18 layer1..layer3, stride 8 with stride 16 added top-down,
    /// 128 px, batch 8; random weights, which cost what ImageNet's do) against SSD on the same trunk, and its RoI Align
    /// and proposal-filtering shares.</summary>
    private static void QuickstartResNet18(TextWriter output)
    {
        const int size = 128, batch = 8;
        var ssdOptions = new SsdDetectorOptions
        {
            InputWidth = size, InputHeight = size, BatchSize = batch, TopDownFusion = true, Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f,
        };
        var frcnnOptions = new FasterRcnnDetectorOptions
        {
            InputWidth = size, InputHeight = size, BatchSize = batch, FeatureStride = 8, Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f,
            AnchorSizes = [12f, 24f, 48f], RepresentationSize = 256,
            RpnPreNmsTopNTrain = 1000, RpnPostNmsTopNTrain = 300, RpnPreNmsTopNTest = 600, RpnPostNmsTopNTest = 100, BoxBatchSizePerImage = 128,
        };
        var data = SsdTrainingBenchmark.BuiltInTrainingSet(ssdOptions);
        manual_seed(1);
        var ssd = new SsdDetectorModel(ssdOptions, data.ClassNames.Length, CPU);
        var frcnn = new FasterRcnnDetectorModel(frcnnOptions, data.ClassNames.Length, CPU);
        var (images, targets) = data.Batch(Enumerable.Range(0, batch).ToArray(), null, new Random(1), CPU);
        var (ssdStep, frcnnStep) = StepSeconds(ssd, frcnn, images, targets);
        var (roiAlign, filter) = Parts(frcnn, frcnnOptions, images, targets);
        // The quickstart freezes the stem and layer1 (torchvision's trainable_backbone_layers=3).
        var frozen = new FasterRcnnDetectorModel(frcnnOptions, data.ClassNames.Length, CPU);
        frozen.Network.modules().OfType<SsdBackbone>().Single().Freeze("layer1");
        var (allStep, frozenStep) = StepSeconds(frcnn, frozen, images, targets);
        output.WriteLine($"  quickstart ResNet-18, {size}×{size}, batch {batch}: SSD (baseline) {batch / ssdStep:F1} img/s, Faster R-CNN {batch / frcnnStep:F1} img/s; " +
                         $"ratio {ssdStep / frcnnStep:F2}x (a Faster R-CNN step costs {frcnnStep / ssdStep:F2} SSD steps)");
        output.WriteLine($"    shares of a Faster R-CNN step: RoI Align forward+backward {roiAlign / frcnnStep:P0}, proposal filtering (top-k, host NMS) {filter / frcnnStep:P0}");
        output.WriteLine($"    Faster R-CNN, every stage trained (baseline) {batch / allStep:F1} img/s, stem and layer1 frozen {batch / frozenStep:F1} img/s; ratio {allStep / frozenStep:F2}x");
    }

    /// <summary>Training img/s and ONNX ms/image at 128 px: the quickstart's one stride-8 map against the FPN (strides 8,
    /// 16 and the max-pooled 32, anchors 12/24/48 one per level) at its default 128 channels and at 64 (the stride-8
    /// trunk map's width at ×0.5), alternating.</summary>
    private static void Pyramid(TextWriter output)
    {
        const int size = 128;
        var single = new FasterRcnnDetectorOptions
        {
            InputWidth = size, InputHeight = size, WidthMultiplier = 0.5f, BatchSize = Batch, FeatureStride = 8,
            AnchorSizes = [12f, 24f, 48f], RepresentationSize = 256,
            RpnPreNmsTopNTrain = 1000, RpnPostNmsTopNTrain = 300, RpnPreNmsTopNTest = 600, RpnPostNmsTopNTest = 100, BoxBatchSizePerImage = 128,
        };
        var data = SsdTrainingBenchmark.BuiltInTrainingSet(new SsdDetectorOptions { InputWidth = size, InputHeight = size, BatchSize = Batch });
        var (images, targets) = data.Batch(Enumerable.Range(0, Batch).ToArray(), null, new Random(1), CPU);
        long Parameters(FasterRcnnDetectorModel m) => m.Network.parameters().Sum(p => p.numel());
        foreach (int channels in new[] { 128, 64 })
        {
            var fpnOptions = single with { Fpn = true, FpnOutChannels = channels };
            manual_seed(1);
            var oneMap = new FasterRcnnDetectorModel(single, data.ClassNames.Length, CPU);
            var pyramid = new FasterRcnnDetectorModel(fpnOptions, data.ClassNames.Length, CPU);
            var (oneStep, pyramidStep) = StepSeconds(oneMap, pyramid, images, targets);
            output.WriteLine($"  {size}×{size}, batch {Batch}, FPN: one stride-8 map (baseline) {Batch / oneStep:F1} img/s, {Parameters(oneMap) / 1e6:F2} M parameters; " +
                             $"FPN (strides 8, 16, 32; {channels} channels) {Batch / pyramidStep:F1} img/s, {Parameters(pyramid) / 1e6:F2} M parameters; ratio {oneStep / pyramidStep:F2}x");
            var (oneMs, pyramidMs) = OnnxMilliseconds(oneMap, single, pyramid, fpnOptions, images[..1], data.ClassNames);
            output.WriteLine($"    ONNX Runtime scoring, batch 1: one map (baseline) {oneMs:F1} ms/image, FPN {pyramidMs:F1} ms/image; ratio {oneMs / pyramidMs:F2}x");
        }
    }

    /// <summary>Median seconds of an AdamW training step of each model on the batch, alternating, so that a change in the
    /// machine's speed falls on both.</summary>
    private static (double A, double B) StepSeconds(IDetectorModel a, IDetectorModel b, Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        var t = TrainingStepTimer.AlternatingMedians(
            [.. new[] { a, b }.Select(m => TrainingStepTimer.Stepper(m.Network, () => m.Loss(images, targets, new Random(3)).Total))], Warmup, Rounds);
        return (t[0], t[1]);
    }

    /// <summary>Median seconds of RoI Align (forward + backward, the RoI count a training step pools) and of the
    /// proposal filtering, on the model's own feature map.</summary>
    private static (double RoiAlign, double Filter) Parts(FasterRcnnDetectorModel model, FasterRcnnDetectorOptions o, Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        int batch = (int)images.shape[0];
        var net = model.Faster;
        using var scope = NewDisposeScope();
        Tensor features;
        using (no_grad()) features = net.Features(images)[0];
        int rois = batch * o.BoxBatchSizePerImage;
        var g = new Generator(5);
        var xy = rand(rois, 2, generator: g) * (o.InputWidth * 0.8f);
        var wh = rand(rois, 2, generator: g) * (o.InputWidth * 0.4f) + 4f;
        var batchIndex = randint(0, batch, [rois, 1], generator: g).to(ScalarType.Float32);
        var boxes = cat([batchIndex, xy, xy + wh], 1);
        var roiTimes = new List<double>();
        var filterTimes = new List<double>();
        long anchors = net.Rpn.AnchorCount;
        var proposals = rand(batch, anchors, 2, generator: g) * o.InputWidth;
        var proposalBoxes = cat([proposals, proposals + rand(batch, anchors, 2, generator: g) * 40f], 2);
        var objectness = randn(batch, anchors, generator: g);
        for (int round = 0; round < Warmup + Rounds; round++)
        {
            var f = features.detach().requires_grad_(true);
            double r = Seconds(() =>
            {
                using var s = NewDisposeScope();
                RoiAlign.Apply(f, boxes, o.RoiOutputSize, o.RoiOutputSize, net.RoiHeads.SpatialScale, o.RoiSamplingRatio).sum().backward();
            });
            double p = Seconds(() =>
            {
                using var s = NewDisposeScope();
                RegionProposalNetwork.FilterProposals(proposalBoxes, objectness, o.InputHeight, o.InputWidth, o.RpnPreNmsTopNTrain, o.RpnPostNmsTopNTrain, o.RpnNmsThreshold, 1e-3f, 0f);
            });
            if (round >= Warmup) { roiTimes.Add(r); filterTimes.Add(p); }
        }
        return (Median(roiTimes), Median(filterTimes));
    }

    private static (double Ssd, double FasterRcnn) OnnxMilliseconds(SsdDetectorModel ssd, SsdDetectorOptions so, FasterRcnnDetectorModel frcnn, FasterRcnnDetectorOptions fo,
        Tensor image, string[] classes)
        => OnnxMilliseconds(ssd, (so.ScoreThreshold, so.NmsIouThreshold, so.MaxDetections), frcnn, (fo.BoxScoreThreshold, fo.BoxNmsThreshold, fo.BoxDetectionsPerImage),
            new NetworkInput(so.InputWidth, so.InputHeight, so.Grayscale), image, classes);

    private static (double A, double B) OnnxMilliseconds(FasterRcnnDetectorModel a, FasterRcnnDetectorOptions ao, FasterRcnnDetectorModel b, FasterRcnnDetectorOptions bo,
        Tensor image, string[] classes)
        => OnnxMilliseconds(a, (ao.BoxScoreThreshold, ao.BoxNmsThreshold, ao.BoxDetectionsPerImage), b, (bo.BoxScoreThreshold, bo.BoxNmsThreshold, bo.BoxDetectionsPerImage),
            new NetworkInput(ao.InputWidth, ao.InputHeight, ao.Grayscale), image, classes);

    /// <summary>Median ms per image of ONNX Runtime scoring each model's exported graph, alternating.</summary>
    private static (double A, double B) OnnxMilliseconds(IDetectorModel a, (float Score, float Iou, int Max) aPost, IDetectorModel b, (float Score, float Iou, int Max) bPost,
        NetworkInput input, Tensor image, string[] classes)
    {
        a.Network.eval();
        b.Network.eval();
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, classes, input.Channels, input.Height, input.Width);
        using var aSession = new InferenceSession(a.Export(input, metadata, aPost.Score, aPost.Iou, aPost.Max).ToBytes());
        using var bSession = new InferenceSession(b.Export(input, metadata, bPost.Score, bPost.Iou, bPost.Max).ToBytes());
        var pixels = image.contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(pixels, image.shape);
        using var runOptions = new RunOptions();
        double Run(InferenceSession session)
        {
            using var outputs = session.Run(runOptions, [ScoringColumns.OnnxPixels], [value], [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores]);
            return 0;
        }
        var aTimes = new List<double>();
        var bTimes = new List<double>();
        for (int round = 0; round < 3 + 10; round++)
        {
            double s = Seconds(() => Run(aSession)), f = Seconds(() => Run(bSession));
            if (round >= 3) { aTimes.Add(s); bTimes.Add(f); }
        }
        return (Median(aTimes) * 1000, Median(bTimes) * 1000);
    }

    private static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
