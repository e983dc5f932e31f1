using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>
/// The whole two-stage model in one ONNX graph (backbone, RPN head, proposal decoding, TopK, NonMaxSuppression,
/// RoiAlign, box head, per-class decoding) gives, after the scoring chain's own post-processing, the detections that
/// the TorchSharp model gives: both feature strides, random and
/// dataset images, batch 1 and 3, from a briefly trained model with BatchNorm statistics moved off their trained values.
/// </summary>
[TestClass]
public sealed class FasterRcnnOnnxParityTests
{
    private static readonly string[] Classes = [.. SyntheticShapesDataset.ClassNames];

    /// <summary>Faster R-CNN for the tiny 64-px shapes of <see cref="DetectorTrainingTests.TinyShapes"/>.</summary>
    internal static FasterRcnnDetectorOptions TinyOptions() => new()
    {
        InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, FeatureStride = 8,
        AnchorSizes = [16f, 32f, 48f], RpnPreNmsTopNTrain = 600, RpnPostNmsTopNTrain = 150, RpnPreNmsTopNTest = 300, RpnPostNmsTopNTest = 50,
        RpnBatchSizePerImage = 128, BoxBatchSizePerImage = 64, RepresentationSize = 128,
        BatchSize = 8, MaxSteps = 240, WarmupSteps = 20, LearningRate = 2e-3, Augmentation = null, Seed = 7, Device = DeviceSelection.Cpu,
        BoxScoreThreshold = 0.05f,
    };

    /// <summary>The tiny options with the feature pyramid: levels at strides 8, 16 and 32 (max-pooled), one anchor
    /// size per level, a 64-wide pyramid, and RoIs of √area ≥ 32 px pooled from stride 16.</summary>
    internal static FasterRcnnDetectorOptions TinyFpnOptions() => TinyOptions() with
    {
        Fpn = true, FpnOutChannels = 64, AnchorSizes = [16f, 32f, 64f], RoiCanonicalScale = 32,
    };

    /// <summary>
    /// A model trained for 60 steps on the tiny shapes (its RPN and box head past their random start: random unit-scale
    /// weights give proposals thousands of pixels wide and saturated objectness, where float32 noise of one part in a
    /// million moves a clipped corner by more than 1e-3 px and equal scores make TopK and NMS ties), then BatchNorm
    /// statistics far from the identity, in eval mode; and its exported graph.
    /// </summary>
    private static (FasterRcnnDetectorModel Model, NetworkInput Input, byte[] Onnx, FasterRcnnDetectorOptions Options) TrainedModel(int stride, int seed)
        => TrainedModel(TinyOptions() with { FeatureStride = stride }, seed);

    private static (FasterRcnnDetectorModel Model, NetworkInput Input, byte[] Onnx, FasterRcnnDetectorOptions Options) TrainedModel(FasterRcnnDetectorOptions tiny, int seed)
    {
        TorchRuntime.EnsureLoaded();
        var options = tiny with { BoxScoreThreshold = 0.01f, MaxSteps = 60, Seed = seed };
        var ml = new MLContext(1);
        var result = new TrainingLoop(options, null).Run(new DetectorTrainingTask(ml, options, DetectorTrainingTests.Load(ml, "train")));
        var model = (FasterRcnnDetectorModel)result.Model;
        manual_seed(seed);
        using (no_grad())
            foreach (var bn in model.Network.modules().OfType<TorchSharp.Modules.BatchNorm>())
            {
                bn.running_mean!.add_(randn_like(bn.running_mean) * 0.1);
                bn.running_var!.mul_(rand_like(bn.running_var) + 0.5);
            }
        var (input, onnx) = Export(model, options);
        return (model, input, onnx, options);
    }

    private static (NetworkInput Input, byte[] Onnx) Export(FasterRcnnDetectorModel model, FasterRcnnDetectorOptions options)
    {
        model.Network.eval();
        var input = new NetworkInput(options.InputWidth, options.InputHeight, options.Grayscale);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, Classes, input.Channels, input.Height, input.Width,
            scoreThreshold: options.BoxScoreThreshold, iouThreshold: options.BoxNmsThreshold);
        return (input, model.Export(input, metadata, options.BoxScoreThreshold, options.BoxNmsThreshold, options.BoxDetectionsPerImage).ToBytes());
    }

    [TestMethod]
    [DataRow(8)]
    [DataRow(16)]
    public void OnnxRuntimeGivesTheDetectionsTorchSharpGives(int stride)
    {
        var (model, input, onnx, options) = TrainedModel(stride, seed: 21 + stride);
        Assert.IsGreaterThan(20, AssertParity(model, input, onnx, options, $"stride {stride}"), "enough detections were compared for the test to mean something");
    }

    /// <summary>
    /// The FPN model in one graph (pyramid, the shared RPN head on each level, TopK per level, NonMaxSuppression with
    /// the levels as classes, RoiAlign on every level with the mapped one kept): VggLite at strides 8, 16, 32 and
    /// ResNet-18 from its stride-4 layer1 (strides 4, 8, 16, 32).
    /// </summary>
    [TestMethod]
    [DataRow(DetectorBackbone.VggLite, 8)]
    [DataRow(DetectorBackbone.ResNet18, 4)]
    public void OnnxRuntimeGivesTheFpnDetectionsTorchSharpGives(DetectorBackbone backbone, int stride)
    {
        var tiny = TinyFpnOptions() with { Backbone = backbone, FeatureStride = stride, AnchorSizes = [.. FasterRcnnNetwork.FpnStrides(stride).Select(s => 2f * s)] };
        var (model, input, onnx, options) = TrainedModel(tiny, seed: 41 + stride);
        var levels = model.Faster.RoiHeads.Pooler.Mapper!;
        Assert.AreEqual(FasterRcnnNetwork.FpnStrides(stride).Length - 1, levels.MaxLevel - levels.MinLevel + 1, "RoI levels: all but the max-pooled");
        Assert.IsGreaterThan(20, AssertParity(model, input, onnx, options, $"FPN {backbone} from stride {stride}"), "enough detections were compared for the test to mean something");
    }

    /// <summary>Random and dataset images, batch 1 and 3; returns how many detections were compared.</summary>
    private static int AssertParity(FasterRcnnDetectorModel model, NetworkInput input, byte[] onnx, FasterRcnnDetectorOptions options, string what)
    {
        using var session = new InferenceSession(onnx);
        using var realImages = MLNetExtensions.Tests.Scoring.DetectorOnnxParityTests.RealImages(input, 3);
        int compared = 0;
        foreach (int batch in new[] { 1, 3 })
        {
            manual_seed(300 + batch);
            using (var scope = NewDisposeScope())
                compared += AssertParity(model, session, rand(batch, input.Channels, input.Height, input.Width) * 255f, options, $"{what}, random pixels, batch {batch}");
            using (var scope = NewDisposeScope())
                compared += AssertParity(model, session, realImages[..batch], options, $"{what}, dataset images, batch {batch}");
        }
        return compared;
    }

    [TestMethod]
    public void TheCheckerAcceptsTheTwoStageGraph()
    {
        TorchRuntime.EnsureLoaded();
        var options = TinyOptions();
        var (_, onnx) = Export(new FasterRcnnDetectorModel(options, Classes.Length, CPU), options);
        var problem = OnnxTestKit.CheckBytes(onnx, "faster-rcnn-checker");
        Assert.IsNull(problem, $"onnx.checker rejected the Faster R-CNN graph: {problem}");
    }

    [TestMethod]
    public void TheCheckerAcceptsTheFpnGraph()
    {
        TorchRuntime.EnsureLoaded();
        var options = TinyFpnOptions() with { Backbone = DetectorBackbone.ResNet18, FeatureStride = 4, AnchorSizes = [8f, 16f, 32f, 64f] };
        var (_, onnx) = Export(new FasterRcnnDetectorModel(options, Classes.Length, CPU), options);
        var problem = OnnxTestKit.CheckBytes(onnx, "faster-rcnn-fpn-checker");
        Assert.IsNull(problem, $"onnx.checker rejected the Faster R-CNN graph with the FPN: {problem}");
    }

    /// <summary>Final detections (score threshold, class-aware NMS) of both; returns how many were compared.</summary>
    private static int AssertParity(FasterRcnnDetectorModel model, InferenceSession session, Tensor images, FasterRcnnDetectorOptions options, string what)
    {
        var expected = model.Predict(images);
        var (boxes, _, scores, _) = OnnxTestKit.RunDetector(session, images);
        int n = (int)images.shape[0], perImage = boxes.Length / n;
        Assert.AreEqual(expected[0].Boxes.Length, perImage, $"{what}: candidates per image");
        var post = new float[] { options.BoxScoreThreshold, options.BoxNmsThreshold, options.BoxDetectionsPerImage };
        int compared = 0;
        double boxError = 0, scoreError = 0;
        for (int i = 0; i < n; i++)
        {
            var ours = Map(expected[i].Boxes, expected[i].ClassScores, post, options);
            var theirs = Map(boxes.AsSpan(i * perImage, perImage).ToArray(), scores.AsSpan(i * perImage / 4 * Classes.Length, perImage / 4 * Classes.Length).ToArray(), post, options);
            Assert.HasCount(ours.Scores.Length, theirs.Scores, $"{what}, image {i}: detection count");
            CollectionAssert.AreEqual(ours.LabelIndices, theirs.LabelIndices, $"{what}, image {i}: classes");
            for (int j = 0; j < ours.Scores.Length; j++)
                Assert.AreEqual(ours.Scores[j], theirs.Scores[j], 1e-4, $"{what}, image {i}, detection {j}: score");
            for (int j = 0; j < ours.Boxes.Length; j++)
                Assert.AreEqual(ours.Boxes[j], theirs.Boxes[j], 1e-3, $"{what}, image {i}, box value {j} (pixels): ours {string.Join(", ", ours.Boxes.Skip(j / 4 * 4).Take(4))}, ONNX Runtime {string.Join(", ", theirs.Boxes.Skip(j / 4 * 4).Take(4))}");
            compared += ours.Scores.Length;
            boxError = Math.Max(boxError, ours.Boxes.Zip(theirs.Boxes, (x, y) => Math.Abs(x - y)).DefaultIfEmpty().Max());
            scoreError = Math.Max(scoreError, ours.Scores.Zip(theirs.Scores, (x, y) => Math.Abs(x - y)).DefaultIfEmpty().Max());
        }
        Console.WriteLine($"{what}: {compared} detections, max |Δbox| {boxError:G3} px, max |Δscore| {scoreError:G3}");
        return compared;
    }

    private static DetectionOutputRow Map(float[] boxes, float[] scores, float[] post, FasterRcnnDetectorOptions o)
    {
        var output = new DetectionOutputRow();
        DetectionOutputMapping.Map(new DetectionOutputInput { Boxes = boxes, ClassScores = scores, PostProcess = post, Width = o.InputWidth, Height = o.InputHeight }, output);
        return output;
    }
}
