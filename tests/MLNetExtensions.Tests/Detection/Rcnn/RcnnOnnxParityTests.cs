using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.Rcnn;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary>The R-CNN's CNN graph (context padding, the RoI Align warp, the trunk, pooling, classifier) computes in ONNX Runtime
/// what the TorchSharp network computes, and the reference checker accepts it and the whole detector graph.</summary>
[TestClass]
public sealed class RcnnOnnxParityTests
{
    private static readonly float[] Regions = [0.1f, 0.2f, 0.6f, 0.7f, 0f, 0f, 1f, 1f, 0.45f, 0.3f, 0.55f, 0.95f, 0.7f, 0.05f, 0.98f, 0.4f];

    private static RcnnNetwork Network(DetectorBackbone backbone) => Eval(Randomize(new RcnnNetwork(backbone, 3, 4,
        PixelNormalization.PerImageStandardization,
        backbone == DetectorBackbone.ResNet18 ? 0.25f : 0.5f, null, warpSize: 32, contextPadding: 3), seed: 11));

    private static OnnxModelMetadata Metadata => new(OnnxModelKind.Detection, ["a", "b", "c", "d"], 3, 48, 64, scoreThreshold: 0.05f, iouThreshold: 0.3f,
        extra: new Dictionary<string, string> { ["architecture"] = "Rcnn" });

    [TestMethod]
    [DataRow(DetectorBackbone.VggLite)]
    [DataRow(DetectorBackbone.ResNet18)]
    public void TheCnnGraphMatchesTorchSharp(DetectorBackbone backbone)
    {
        TorchRuntime.EnsureLoaded();
        using var net = Network(backbone);
        var input = new NetworkInput(64, 48, false);
        var bytes = net.ExportCnn(input, Metadata).ToBytes();
        torch.manual_seed(5);
        using var images = torch.rand(1, 3, 48, 64) * 255;
        int r = Regions.Length / 4;
        var scale = new[] { 64f, 48f, 64f, 48f };
        var rois = Enumerable.Range(0, r).SelectMany(q => new[] { 0f }.Concat(Enumerable.Range(0, 4).Select(j => Regions[4 * q + j] * scale[j]))).ToArray();
        using var noGrad = torch.no_grad();
        using var features = net.Features(images, torch.tensor(rois).reshape(r, 5));
        using var probabilities = net.Classify(features).softmax(1);

        using var session = new InferenceSession(bytes);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(ScoringColumns.OnnxPixels, new DenseTensor<float>(images.contiguous().data<float>().ToArray(), [1, 3, 48, 64])),
            NamedOnnxValue.CreateFromTensor(RcnnNetwork.RegionsInput, new DenseTensor<float>(Regions, [r, 4])),
        ]);
        var f = results.Single(x => x.Name == RcnnNetwork.FeaturesOutput).AsTensor<float>();
        var p = results.Single(x => x.Name == RcnnNetwork.ProbabilitiesOutput).AsTensor<float>();
        // Features reach about 100 with random weights: 1e-3 is a relative 1e-5, float32 summation order.
        AssertClose(features, f.ToArray(), f.Dimensions.ToArray().Select(d => (long)d).ToArray(), 1e-3, "region features");
        AssertClose(probabilities, p.ToArray(), p.Dimensions.ToArray().Select(d => (long)d).ToArray(), 1e-4, "fine-tuned probabilities");
    }

    [TestMethod]
    public void TheCheckerAcceptsTheCnnAndDetectorGraphs()
    {
        TorchRuntime.EnsureLoaded();
        using var net = Network(DetectorBackbone.VggLite);
        var input = new NetworkInput(64, 48, false);
        Assert.IsNull(CheckBytes(net.ExportCnn(input, Metadata).ToBytes(), "rcnn-cnn"), "onnx.checker rejected the CNN graph");
        long d = net.FeatureSize;
        var heads = new RcnnClassHeads(new float[4 * d], new float[4], new float[16 * d], new float[16]);
        Assert.IsNull(CheckBytes(net.ExportDetector(input, Metadata, heads, 50, 0.05f, 0.3f, 100).ToBytes(), "rcnn-detector"), "onnx.checker rejected the detector graph");
    }
}
