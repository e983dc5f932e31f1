using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// The exported detector graph (decoding included) computes what the TorchSharp network computes in eval mode:
/// <c>MLNetExt_Boxes</c> and <c>MLNetExt_Scores</c> from ONNX Runtime against <see cref="IDetectorModel.Predict"/>,
/// for SSD and the grid detector, both pixel normalisations, random and real images, batch 1 and 3.
/// </summary>
[TestClass]
public sealed class DetectorOnnxParityTests
{
    private const double Tolerance = 1e-4;
    private static readonly string[] Classes = [.. SyntheticShapesDataset.ClassNames];

    [TestMethod]
    [DataRow(DetectorArchitecture.Ssd, PixelNormalization.PerImageStandardization)]
    [DataRow(DetectorArchitecture.Ssd, PixelNormalization.MinusOneToOne)]
    [DataRow(DetectorArchitecture.Grid, PixelNormalization.PerImageStandardization)]
    [DataRow(DetectorArchitecture.Grid, PixelNormalization.MinusOneToOne)]
    [DataRow(DetectorArchitecture.Ssd, PixelNormalization.ImageNet)]
    public void OnnxRuntimeMatchesTorchSharp(DetectorArchitecture architecture, PixelNormalization normalization)
    {
        var (model, input, onnx) = RandomDetector(architecture, normalization, seed: 11);
        using var session = new InferenceSession(onnx);
        var realImages = RealImages(input, 3);
        foreach (int batch in new[] { 1, 3 })
        {
            torch.manual_seed(100 + batch);
            using (var scope = NewDisposeScope())
                AssertParity(model, session, torch.rand(batch, input.Channels, input.Height, input.Width) * 255f, $"{architecture}/{normalization}, random pixels, batch {batch}");
            using (var scope = NewDisposeScope())
                AssertParity(model, session, realImages[..batch], $"{architecture}/{normalization}, dataset images, batch {batch}");
        }
        realImages.Dispose();
    }

    [TestMethod]
    [DataRow(96, 96)]
    [DataRow(100, 84)]   // stride-8 maps 13×11, stride-16 maps 7×6: the upsampled map is resized to 13×11, not doubled
    public void OnnxRuntimeMatchesTorchSharpWithTopDownFusion(int width, int height)
    {
        var (model, input, onnx) = RandomDetector(DetectorArchitecture.Ssd, PixelNormalization.PerImageStandardization, seed: 13,
            o => o with { TopDownFusion = true, InputWidth = width, InputHeight = height });
        Assert.IsTrue(model.Network.named_parameters().Any(p => p.name.StartsWith("backbone.lateral.", StringComparison.Ordinal)), "the fusion layers are part of the network");
        using var session = new InferenceSession(onnx);
        foreach (int batch in new[] { 1, 3 })
        {
            torch.manual_seed(200 + batch);
            using var scope = NewDisposeScope();
            AssertParity(model, session, torch.rand(batch, input.Channels, input.Height, input.Width) * 255f, $"top-down fusion {width}×{height}, batch {batch}");
        }
        Assert.IsNull(OnnxTestKit.CheckBytes(onnx, "detector-fusion"), "onnx.checker accepts the fused graph");
    }

    [TestMethod]
    [DataRow(DetectorArchitecture.Ssd)]
    [DataRow(DetectorArchitecture.Grid)]
    public void TheCheckerAcceptsTheDetectorGraph(DetectorArchitecture architecture)
    {
        var (_, _, onnx) = RandomDetector(architecture, PixelNormalization.PerImageStandardization, seed: 12);
        var problem = OnnxTestKit.CheckBytes(onnx, "detector-checker");
        Assert.IsNull(problem, $"onnx.checker rejected the {architecture} graph: {problem}");
    }

    /// <summary>A tiny detector (DetectorTrainingTests.TinyOptions) with random weights and BatchNorm statistics far from
    /// the identity, in eval mode, and its exported graph.</summary>
    internal static (IDetectorModel Model, NetworkInput Input, byte[] Onnx) RandomDetector(DetectorArchitecture architecture, PixelNormalization normalization, int seed,
        Func<SsdDetectorOptions, SsdDetectorOptions>? adjust = null)
    {
        TorchRuntime.EnsureLoaded();
        var options = DetectorTrainingTests.TinyOptions(architecture) with { Normalization = normalization };
        if (adjust != null) options = adjust(options);
        IDetectorModel model = architecture == DetectorArchitecture.Grid
            ? new GridDetectorModel(options, Classes.Length, CPU)
            : new SsdDetectorModel(options, Classes.Length, CPU);
        OnnxTestKit.Randomize(model.Network, seed);
        var input = new NetworkInput(options.InputWidth, options.InputHeight, options.Grayscale);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, Classes, input.Channels, input.Height, input.Width,
            scoreThreshold: options.ScoreThreshold, iouThreshold: options.NmsIouThreshold);
        var onnx = model.Export(input, metadata, options.ScoreThreshold, options.NmsIouThreshold, options.MaxDetections).ToBytes();
        return (model, input, onnx);
    }

    /// <summary>The first images of the tiny synthetic set as (N, C, H, W) float pixels, through the scoring pixel pipeline.</summary>
    internal static Tensor RealImages(NetworkInput input, int count)
    {
        var paths = Directory.GetFiles(Path.Combine(DetectorTrainingTests.TinyShapes, "JPEGImages")).Order().Take(count).ToList();
        Assert.HasCount(count, paths);
        var bytes = paths.Select(input.ReadPixels).ToList();
        return torch.stack(bytes.Select(b => torch.tensor(b, ScalarType.Byte).reshape(input.Channels, input.Height, input.Width).to(ScalarType.Float32)));
    }

    private static void AssertParity(IDetectorModel model, InferenceSession session, Tensor images, string what)
    {
        var expected = model.Predict(images);
        var (boxes, boxShape, scores, scoreShape) = OnnxTestKit.RunDetector(session, images);
        int n = (int)images.shape[0];
        Assert.HasCount(n, expected);
        int a = expected[0].Boxes.Length / 4;
        CollectionAssert.AreEqual(new long[] { n, a, 4 }, boxShape, $"{what}: boxes shape");
        CollectionAssert.AreEqual(new long[] { n, a, Classes.Length }, scoreShape, $"{what}: scores shape");
        AssertClose(expected.SelectMany(e => e.Boxes).ToArray(), boxes, $"{what}: boxes");
        AssertClose(expected.SelectMany(e => e.ClassScores).ToArray(), scores, $"{what}: scores");
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.HasCount(expected.Length, actual, what);
        double maxDiff = 0, spread = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            spread = Math.Max(spread, Math.Abs(expected[i] - expected[0]));
        }
        Console.WriteLine($"{what}: max |torch - onnx| = {maxDiff:G3}");
        Assert.IsLessThanOrEqualTo(Tolerance, maxDiff, $"{what}: max |torch - onnx| = {maxDiff:G3}");
        // Constant outputs (a dead network) would match trivially: the values must vary.
        Assert.IsGreaterThan(1e-2, spread, $"{what}: the outputs are (almost) constant, so the comparison proves nothing");
    }
}
