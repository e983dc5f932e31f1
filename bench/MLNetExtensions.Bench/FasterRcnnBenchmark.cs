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
/// backward) and in proposal filtering (top-k, NMS on the host), and ONNX Runtime scoring ms per image.
/// </summary>
public sealed class FasterRcnnBenchmark : IBenchmark
{
    private const int Batch = 4, Warmup = 2, Rounds = 5;

    public string Name => "faster-rcnn";
    public string Description => "Faster R-CNN vs SSD (same backbone): training img/s at 128 and 300 px, RoI Align and NMS shares, ONNX ms/image";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
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
            var ssdOptimizer = optim.AdamW(ssd.Network.parameters(), 1e-3);
            var frcnnOptimizer = optim.AdamW(frcnn.Network.parameters(), 1e-3);
            ssd.Network.train();
            frcnn.Network.train();
            var (images, targets) = data.Batch(Enumerable.Range(0, Batch).ToArray(), null, new Random(1), CPU);

            var ssdTimes = new List<double>();
            var frcnnTimes = new List<double>();
            for (int round = 0; round < Warmup + Rounds; round++)
            {
                // Alternating, so that a change in the machine's speed falls on both.
                double s = Seconds(() => Step(ssd, ssdOptimizer, images, targets));
                double f = Seconds(() => Step(frcnn, frcnnOptimizer, images, targets));
                if (round >= Warmup) { ssdTimes.Add(s); frcnnTimes.Add(f); }
            }
            double ssdStep = Median(ssdTimes), frcnnStep = Median(frcnnTimes);
            var (roiAlign, filter) = Parts(frcnn, frcnnOptions, images, targets);
            output.WriteLine($"  {size}×{size}, batch {Batch}: SSD (baseline) {Batch / ssdStep:F1} img/s, Faster R-CNN {Batch / frcnnStep:F1} img/s; " +
                             $"ratio {ssdStep / frcnnStep:F2}x (a Faster R-CNN step costs {frcnnStep / ssdStep:F2} SSD steps)");
            output.WriteLine($"    shares of a Faster R-CNN step: RoI Align forward+backward {roiAlign / frcnnStep:P0}, proposal filtering (top-k, host NMS) {filter / frcnnStep:P0}");
            var (ssdMs, frcnnMs) = OnnxMilliseconds(ssd, ssdOptions, frcnn, frcnnOptions, images[..1], data.ClassNames);
            output.WriteLine($"    ONNX Runtime scoring, batch 1: SSD (baseline) {ssdMs:F1} ms/image, Faster R-CNN {frcnnMs:F1} ms/image; ratio {ssdMs / frcnnMs:F2}x");
        }
    }

    private static void Step(IDetectorModel model, optim.Optimizer optimizer, Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        using var scope = NewDisposeScope();
        var loss = model.Loss(images, targets, new Random(3));
        optimizer.zero_grad();
        loss.Total.backward();
        optimizer.step();
    }

    /// <summary>Median seconds of RoI Align (forward + backward, the RoI count a training step pools) and of the
    /// proposal filtering, on the model's own feature map.</summary>
    private static (double RoiAlign, double Filter) Parts(FasterRcnnDetectorModel model, FasterRcnnDetectorOptions o, Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        var net = model.Faster;
        using var scope = NewDisposeScope();
        Tensor features;
        using (no_grad()) features = net.Features(images);
        int rois = Batch * o.BoxBatchSizePerImage;
        var g = new Generator(5);
        var xy = rand(rois, 2, generator: g) * (o.InputWidth * 0.8f);
        var wh = rand(rois, 2, generator: g) * (o.InputWidth * 0.4f) + 4f;
        var batchIndex = randint(0, Batch, [rois, 1], generator: g).to(ScalarType.Float32);
        var boxes = cat([batchIndex, xy, xy + wh], 1);
        var roiTimes = new List<double>();
        var filterTimes = new List<double>();
        long anchors = net.Rpn.AnchorCount;
        var proposals = rand(Batch, anchors, 2, generator: g) * o.InputWidth;
        var proposalBoxes = cat([proposals, proposals + rand(Batch, anchors, 2, generator: g) * 40f], 2);
        var objectness = randn(Batch, anchors, generator: g);
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
    {
        ssd.Network.eval();
        frcnn.Network.eval();
        var input = new NetworkInput(so.InputWidth, so.InputHeight, so.Grayscale);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, classes, input.Channels, input.Height, input.Width);
        using var ssdSession = new InferenceSession(ssd.Export(input, metadata, so.ScoreThreshold, so.NmsIouThreshold, so.MaxDetections).ToBytes());
        using var frcnnSession = new InferenceSession(frcnn.Export(input, metadata, fo.BoxScoreThreshold, fo.BoxNmsThreshold, fo.BoxDetectionsPerImage).ToBytes());
        var pixels = image.contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(pixels, image.shape);
        using var runOptions = new RunOptions();
        double Run(InferenceSession session)
        {
            using var outputs = session.Run(runOptions, [ScoringColumns.OnnxPixels], [value], [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores]);
            return 0;
        }
        var a = new List<double>();
        var b = new List<double>();
        for (int round = 0; round < 3 + 10; round++)
        {
            double s = Seconds(() => Run(ssdSession)), f = Seconds(() => Run(frcnnSession));
            if (round >= 3) { a.Add(s); b.Add(f); }
        }
        return (Median(a) * 1000, Median(b) * 1000);
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
