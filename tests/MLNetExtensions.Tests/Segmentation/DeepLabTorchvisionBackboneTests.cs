using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

/// <summary>DeepLab v3+ on torchvision's ResNet-18/34/50 and MobileNetV2: feature strides and ONNX parity.</summary>
[TestClass]
public sealed class DeepLabTorchvisionBackboneTests
{
    [TestInitialize]
    public void Init() => TorchRuntime.EnsureLoaded();

    /// <summary>A DeepLab with a small head (ASPP 32, projection 16) on the backbone the options describe.</summary>
    internal static DeepLabNetwork Network(SegmentationBackboneKind kind, int outputStride, float widthMultiplier, int classes = 4)
    {
        var options = new DeepLabSegmenterOptions { Backbone = kind, OutputStride = outputStride, WidthMultiplier = widthMultiplier };
        options.Validate();
        return new DeepLabNetwork(SegmentationBackboneFactory.Create(options, 3), classes, PixelNormalization.MinusOneToOne, asppChannels: 32, lowLevelProjection: 16);
    }

    /// <summary>
    /// Known answers at width 1 (torchvision's channel counts) on 64×64: low-level maps are 16×16 (stride 4), high-level
    /// maps 4×4 at output stride 16 and 8×8 at 8; ResNet-18/34 end with 512 channels, ResNet-50 with 2048 (its layer1
    /// gives 256), MobileNetV2 gives 24 at features.3 and 1280 at features.18.
    /// </summary>
    [TestMethod]
    [DataRow(SegmentationBackboneKind.ResNet18, 16, 64, 512)]
    [DataRow(SegmentationBackboneKind.ResNet18, 8, 64, 512)]
    [DataRow(SegmentationBackboneKind.ResNet34, 16, 64, 512)]
    [DataRow(SegmentationBackboneKind.ResNet50, 16, 256, 2048)]
    [DataRow(SegmentationBackboneKind.MobileNetV2, 16, 24, 1280)]
    [DataRow(SegmentationBackboneKind.MobileNetV2, 8, 24, 1280)]
    public void GivesLowLevelFeaturesAtStride4AndHighLevelAtTheOutputStride(SegmentationBackboneKind kind, int outputStride, int lowChannels, int highChannels)
    {
        using var scope = NewDisposeScope();
        using var net = Network(kind, outputStride, 1f);
        net.eval();
        var backbone = net.Backbone;
        Assert.AreEqual(lowChannels, backbone.LowLevelChannels);
        Assert.AreEqual(highChannels, backbone.HighLevelChannels);
        Assert.AreEqual(outputStride, backbone.OutputStride);
        using var noGrad = no_grad();
        var (low, high) = ((nn.Module<Tensor, (Tensor, Tensor)>)backbone).call(zeros(1, 3, 64, 64));
        CollectionAssert.AreEqual(new long[] { 1, lowChannels, 16, 16 }, low.shape);
        long side = 64 / outputStride;
        CollectionAssert.AreEqual(new long[] { 1, highChannels, side, side }, high.shape);
        CollectionAssert.AreEqual(new long[] { 1, 4, 64, 64 }, net.call(zeros(1, 3, 64, 64)).shape);
    }

    [TestMethod]
    public void WidthMultiplierScalesTheResNetBaseWidth()
    {
        // 64·0.25 = 16 channels in layer1, 128 in layer4; 64·0.3 = 19.2 rounds to the multiple of 8 nearest: 16.
        using var quarter = Network(SegmentationBackboneKind.ResNet18, 16, 0.25f);
        Assert.AreEqual(16, quarter.Backbone.LowLevelChannels);
        Assert.AreEqual(128, quarter.Backbone.HighLevelChannels);
        Assert.AreEqual(16, SegmentationBackboneFactory.ResNetBaseWidth(0.3f));
        Assert.AreEqual(8, SegmentationBackboneFactory.ResNetBaseWidth(0.01f));
        // MobileNetV2: torchvision's width_mult (24·0.5 = 12 → 16); its last 1×1 conv keeps 1280 below width 1.
        using var half = Network(SegmentationBackboneKind.MobileNetV2, 16, 0.5f);
        Assert.AreEqual(16, half.Backbone.LowLevelChannels);
        Assert.AreEqual(1280, half.Backbone.HighLevelChannels);
    }

    /// <summary>
    /// <see cref="OnnxTestKit.Randomize"/>, then BatchNorm running statistics set to those of one random batch and γ
    /// scaled by 0.6. Random statistics alone let activations grow through 16-50 residual layers (logits of 1e4), and
    /// with γ up to 1.5 every layer amplifies rounding: torch's own float32 forward then differs from its float64 forward
    /// by 2e-4, over the 1e-4 the export is held to. Calibrated so, logits are near 1 and float32 torch, float64 torch and
    /// ONNX Runtime agree to about 1e-6, while γ, β and the statistics stay far from the identity.
    /// </summary>
    private static DeepLabNetwork Calibrated(DeepLabNetwork net, int seed)
    {
        OnnxTestKit.Randomize(net, seed);
        var norms = net.modules().OfType<BatchNorm>().ToList();
        foreach (var bn in norms) bn.momentum = 1.0;
        net.train();
        using (var scope = NewDisposeScope())
        using (no_grad())
            net.call(rand(4, 3, 64, 64) * 255);
        foreach (var bn in norms)
        {
            bn.momentum = 0.1;
            // Channels a ReLU left (almost) dead have a variance near 0; dividing by its root would blow rounding up by
            // 1/√eps ≈ 300. Floor each variance at a tenth of the layer's mean.
            using var floor = bn.running_var!.mean() * 0.1;
            using (no_grad())
            {
                bn.running_var!.clamp_(min: floor.item<float>());
                bn.weight.mul_(0.6);
            }
        }
        net.eval();
        return net;
    }

    [TestMethod]
    [DataRow(SegmentationBackboneKind.ResNet18, 16, 64, 64)]
    [DataRow(SegmentationBackboneKind.ResNet18, 8, 72, 56)]
    [DataRow(SegmentationBackboneKind.ResNet34, 16, 64, 64)]
    [DataRow(SegmentationBackboneKind.ResNet50, 8, 64, 64)]
    [DataRow(SegmentationBackboneKind.MobileNetV2, 16, 64, 64)]
    [DataRow(SegmentationBackboneKind.MobileNetV2, 8, 72, 56)]
    public void OnnxExportMatchesTorchLogits(SegmentationBackboneKind kind, int outputStride, int height, int width)
    {
        using var net = Calibrated(Network(kind, outputStride, 0.25f), seed: 13);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Segmentation, ["background", "a", "b", "c"], 3, height, width);
        var bytes = net.ExportGraph(new NetworkInput(width, height, false), metadata).ToBytes();
        using var session = new InferenceSession(bytes);
        using var scope = NewDisposeScope();
        manual_seed(21);
        var x = rand(2, 3, height, width) * 255;
        Tensor expected;
        using (no_grad()) expected = net.call(x);
        var (actual, shape) = OnnxTestKit.Run(session, ScoringColumns.OnnxPixels, x.data<float>().ToArray(), x.shape);
        OnnxTestKit.AssertClose(expected, actual, shape, 1e-4, $"{kind} OS{outputStride}");
    }
}
