using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Detection;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Backbones;

/// <summary>The backbones' exported graphs (every returned map an output) equal their TorchSharp eval forward under ONNX Runtime.</summary>
[TestClass]
public sealed class BackboneOnnxParityTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    /// <summary>Exports with a dynamic batch axis and compares every map for batch sizes 1 and 2.</summary>
    internal static void AssertExportMatches(FeatureExtractor backbone, long h, long w)
    {
        var g = new OnnxGraphBuilder();
        var input = g.AddInput("input", OnnxGraphBuilder.BatchDimension, 3, h, w);
        var names = backbone.Export(g, input);
        Assert.HasCount(backbone.OutChannels.Length, names);
        Tensor[] probe;
        using (var zeros = torch.zeros(1, 3, h, w))
        using (torch.no_grad())
            probe = backbone.call(zeros);
        for (int k = 0; k < names.Length; k++)
            g.AddOutput(names[k], $"map{k}", [OnnxGraphBuilder.BatchDimension, .. probe[k].shape.Skip(1).Select(d => (OnnxDimension)d)]);
        foreach (var p in probe) p.Dispose();

        using var session = new InferenceSession(g.ToBytes());
        foreach (long batch in new long[] { 1, 2 })
        {
            torch.manual_seed(11 + batch);
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var x = torch.randn(batch, 3, h, w);
            var expected = backbone.call(x);
            using var value = OrtValue.CreateTensorValueFromMemory(x.data<float>().ToArray(), x.shape);
            using var runOptions = new RunOptions();
            var outputNames = Enumerable.Range(0, names.Length).Select(k => $"map{k}").ToArray();
            using var outputs = session.Run(runOptions, ["input"], [value], outputNames);
            // Random weights with random BatchNorm statistics let activations grow to hundreds through a deep net;
            // float32 sums in another order then differ by ~1e-6 of the largest activation, also in maps that ReLU6
            // clips to [0, 6], so the bound is relative to the largest map.
            double scale = expected.Max(e => e.abs().max().item<float>());
            double tolerance = Tolerance * Math.Max(1.0, scale);
            for (int k = 0; k < names.Length; k++)
            {
                AssertClose(expected[k], outputs[k].GetTensorDataAsSpan<float>().ToArray(), outputs[k].GetTensorTypeAndShape().Shape, tolerance, $"batch {batch}, map {k}");
            }
        }
    }

    [TestMethod]
    public void ResNet18LayoutMatchesOnnxRuntime()
    {
        // Half width keeps the test fast; the graph is the same as at full width.
        using var backbone = Randomize(new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 32 }), seed: 21);
        AssertExportMatches(backbone, 64, 48);
    }

    [TestMethod]
    public void DilatedResNetsMatchOnnxRuntime()
    {
        using var basic16 = Randomize(new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 16, ReplaceStrideWithDilation = [false, false, true] }), seed: 22);
        CollectionAssert.AreEqual(new long[] { 4, 8, 16, 16 }, basic16.OutStrides);
        AssertExportMatches(basic16, 64, 64);
        using var bottleneck8 = Randomize(new ResNetBackbone(ResNetBackboneOptions.ResNet50 with { BaseWidth = 8, ReplaceStrideWithDilation = [false, true, true] }), seed: 23);
        AssertExportMatches(bottleneck8, 48, 48);
    }

    [TestMethod]
    public void MobileNetV2MatchesOnnxRuntimeUndilatedAndDilated()
    {
        // Output stride 8 dilates by 2 (64-channel stage) and 4 (160- and 320-channel stages).
        foreach (int outputStride in new[] { 32, 8 })
        {
            using var backbone = Randomize(new MobileNetV2Backbone(new MobileNetV2BackboneOptions { WidthMultiplier = 0.35f, OutputStride = outputStride }), seed: 24 + outputStride);
            AssertExportMatches(backbone, 48, 48);
        }
    }

    [TestMethod]
    public void ExportInTrainingModeIsRefused()
    {
        using var backbone = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 8 });
        backbone.train();
        var g = new OnnxGraphBuilder();
        var e = Assert.Throws<OnnxExportException>(() => backbone.Export(g, g.AddInput("input", 1, 3, 32, 32)));
        StringAssert.Contains(e.Message, "training mode");
    }
}
