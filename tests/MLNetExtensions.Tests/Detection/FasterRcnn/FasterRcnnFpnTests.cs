using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>
/// The FPN variant's pieces against torchvision 0.14 (TestData/FasterRcnn/make_faster_rcnn_fixtures.py writes
/// fpn.safetensors): per-level anchors, the level mapper (and its ONNX form), <c>filter_proposals</c> over three levels
/// with NMS per level, the feature pyramid with its max-pooled level, <c>MultiScaleRoIAlign</c>; and the network's
/// levels, channels and options.
/// </summary>
[TestClass]
public sealed class FasterRcnnFpnTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    private static SafetensorsFile Fixture() => SafetensorsFile.Open(TempFolder.Fixture(Path.Combine("FasterRcnn", "fpn.safetensors")));

    [TestMethod]
    public void AnchorsPerLevelAreTorchvisions()
    {
        var rpn = new RegionProposalNetwork(4, [new AnchorGenerator([16f], [0.5f, 1f, 2f]), new AnchorGenerator([32f], [0.5f, 1f, 2f]), new AnchorGenerator([64f], [0.5f, 1f, 2f])],
            [(8, 8), (4, 4), (2, 2)], 64, 64, new RegionProposalNetwork.RpnSettings());
        CollectionAssert.AreEqual(Fixture().ReadTensor("anchors").data<float>().ToArray(), rpn.Anchors(CPU).data<float>().ToArray());
        CollectionAssert.AreEqual(new[] { 192, 48, 12 }, rpn.AnchorsPerLevel.ToArray());
    }

    [TestMethod]
    [DataRow(2, 5, 224)]
    [DataRow(3, 4, 224)]
    [DataRow(2, 4, 64)]
    public void LevelMapperIsTorchvisionsAndItsOnnxGraphAgrees(int minLevel, int maxLevel, int canonicalScale)
    {
        var file = Fixture();
        var boxes = file.ReadTensor("mapper.boxes");                                                 // (16, 4)
        var expected = file.ReadTensor($"mapper.{minLevel}_{maxLevel}" + (canonicalScale == 224 ? "" : $"_{canonicalScale}")).data<float>().ToArray();
        var mapper = new LevelMapper(minLevel, maxLevel, canonicalScale);
        var ours = mapper.Map(boxes).data<long>().ToArray().Select(l => (float)l).ToArray();
        CollectionAssert.AreEqual(expected, ours, $"levels; √area on a boundary goes up: {string.Join(", ", expected)}");
        Assert.AreEqual(maxLevel - minLevel + 1, expected.Distinct().Count(), "the boxes fall on every level");

        var g = new OnnxGraphBuilder();
        var x = g.AddInput("boxes", "R", 4);
        g.AddOutput(mapper.Export(g, x), "levels", "R");
        using var session = new InferenceSession(g.ToBytes());
        var (onnx, _) = OnnxTestKit.Run(session, "boxes", boxes.data<float>().ToArray(), boxes.shape);
        CollectionAssert.AreEqual(expected, onnx, "ONNX Runtime's levels");
    }

    [TestMethod]
    public void FilterProposalsPerLevelKeepsWhatTorchvisionKeeps()
    {
        var file = Fixture();
        var (boxes, scores) = RegionProposalNetwork.FilterProposals(file.ReadTensor("proposals"), file.ReadTensor("objectness"), [200, 80, 20], 100, 120,
            preNmsTopN: 60, postNmsTopN: 50, nmsThreshold: 0.7f, minSize: 1e-3f, scoreThreshold: 0f);
        // The fixture's kept scores differ by 3.5e-6 at least, so the order is unambiguous.
        FasterRcnnRpnTests.AssertKeptAsTorchvision(file, boxes, scores);
        for (int i = 0; i < 2; i++)
        {
            // Boxes of different levels overlapping past the NMS threshold are all kept: NMS ran within each level.
            var iou = MLNetExtensions.Torch.Boxes.BoxIou.Pairwise(boxes[i], boxes[i]) - eye(boxes[i].shape[0]);
            Assert.IsGreaterThan(0L, iou.gt(0.7).sum().item<long>(), $"image {i}: pairs across levels above the NMS threshold");
        }
    }

    [TestMethod]
    public void TheFeaturePyramidIsTorchvisions()
    {
        var file = Fixture();
        var fpn = new FeaturePyramidNetwork([8, 16, 32], 16);
        var report = SafetensorsWeights.LoadInto(fpn, TempFolder.Fixture(Path.Combine("FasterRcnn", "fpn_weights.safetensors")));
        Assert.IsNotNull(report);
        fpn.eval();
        Assert.AreEqual(4, fpn.LevelCount);
        using var noGrad = no_grad();
        var outputs = fpn.call([.. Enumerable.Range(0, 3).Select(k => file.ReadTensor($"fpn.input.{k}"))]);
        Assert.HasCount(4, outputs);
        var sizes = new[] { 16L, 8, 4, 2 };
        for (int k = 0; k < 4; k++)
        {
            CollectionAssert.AreEqual(new[] { 2L, 16, sizes[k], sizes[k] }, outputs[k].shape, $"level {k}: 16 channels, the max-pooled one half the coarsest");
            Assert.IsLessThan(1e-5, (outputs[k] - file.ReadTensor($"fpn.output.{k}")).abs().max().item<float>(), $"level {k}");
        }
    }

    [TestMethod]
    public void MultiScaleRoiAlignIsTorchvisionsAndCarriesTheGradientToEachLevel()
    {
        var file = Fixture();
        var features = Enumerable.Range(0, 3).Select(k => file.ReadTensor($"pool.features.{k}").requires_grad_(true)).ToArray();
        // torchvision's pooler is not aligned; a canonical scale of 32 puts the 64-px images' RoIs on all levels.
        var pooler = new MultiScaleRoiAlign([0.25f, 0.125f, 0.0625f], 7, 2, aligned: false, canonicalScale: 32);
        Assert.AreEqual(2, pooler.Mapper!.MinLevel);
        Assert.AreEqual(4, pooler.Mapper.MaxLevel);
        var rois = file.ReadTensor("pool.rois");
        var levels = pooler.Mapper.Map(rois[.., 1..]);
        CollectionAssert.AreEquivalent(new long[] { 0, 1, 2 }, levels.unique().Item1.data<long>().ToArray(), "the RoIs fall on all three levels");
        var pooled = pooler.Apply(features, rois);
        Assert.IsLessThan(1e-5, (pooled - file.ReadTensor("pool.output")).abs().max().item<float>());
        pooled.sum().backward();
        foreach (var f in features) Assert.IsGreaterThan(0f, f.grad!.abs().sum().item<float>(), "each level gets a gradient");
    }

    private static FasterRcnnNetwork Network(DetectorBackbone backbone, int stride, float[] anchorSizes, int? fpnChannels) => new(
        backbone, 3, 5, PixelNormalization.MinusOneToOne, 0.5f, null, stride, 64, 64, new AnchorGenerator(anchorSizes, [0.5f, 1f, 2f]),
        new RegionProposalNetwork.RpnSettings(), new RoiHeads.RoiSettings(RepresentationSize: 32), fpnChannels);

    [TestMethod]
    [DataRow(DetectorBackbone.VggLite, 8, new[] { 8, 4, 2 })]
    [DataRow(DetectorBackbone.ResNet18, 4, new[] { 16, 8, 4, 2 })]
    [DataRow(DetectorBackbone.ResNet18, 16, new[] { 4, 2 })]
    public void TheNetworkHasOneLevelPerStrideAllFpnWide(DetectorBackbone backbone, int stride, int[] sizes)
    {
        var anchors = FasterRcnnNetwork.FpnStrides(stride).Select(s => 2f * s).ToArray();
        var net = Network(backbone, stride, anchors, fpnChannels: 24);
        net.eval();
        using var noGrad = no_grad();
        var maps = net.Features(rand(2, 3, 64, 64) * 255f);
        Assert.HasCount(sizes.Length, maps);
        for (int l = 0; l < sizes.Length; l++)
            CollectionAssert.AreEqual(new[] { 2L, 24, sizes[l], sizes[l] }, maps[l].shape, $"level {l}");
        CollectionAssert.AreEqual(sizes.Select(s => s * s * 3).ToArray(), net.Rpn.AnchorsPerLevel.ToArray(), "3 anchors per location and level");
        CollectionAssert.AreEqual(sizes[..^1].Select(s => s / 64f).ToArray(), net.RoiHeads.Pooler.SpatialScales.ToArray(), "the RoI heads pool from all but the max-pooled level");
        var (boxes, scores) = net.Predict(rand(2, 3, 64, 64) * 255f);
        CollectionAssert.AreEqual(new[] { 2L, net.ProposalCount * 5L, 4 }, boxes.shape);
        CollectionAssert.AreEqual(new[] { 2L, net.ProposalCount * 5L, 5 }, scores.shape);
    }

    [TestMethod]
    public void TheOneMapNetworkHasNoPyramid()
    {
        var net = Network(DetectorBackbone.VggLite, 8, [16f, 32f, 48f], fpnChannels: null);
        Assert.IsNull(net.Fpn);
        Assert.IsFalse(net.state_dict().Keys.Any(k => k.StartsWith("fpn.", StringComparison.Ordinal)), "no new weights: old checkpoints load");
        Assert.AreEqual(1, net.RoiHeads.Pooler.SpatialScales.Count);
        Assert.IsNull(net.RoiHeads.Pooler.Mapper);
        Assert.AreEqual(8 * 8 * 9, net.Rpn.AnchorCount, "three sizes × three ratios at every stride-8 location");
    }

    [TestMethod]
    public void TheOptionsCheckTheLevelsAndTheAnchorSizes()
    {
        var ok = new FasterRcnnDetectorOptions { Fpn = true, FeatureStride = 8 };
        ok.Validate();   // the default anchor sizes are one per level for stride 8
        new FasterRcnnDetectorOptions { Fpn = true, FeatureStride = 4, Backbone = DetectorBackbone.ResNet18, AnchorSizes = [16f, 32f, 64f, 128f] }.Validate();

        var wrongCount = Assert.ThrowsExactly<ArgumentException>(() => new FasterRcnnDetectorOptions { Fpn = true, FeatureStride = 16 }.Validate());
        StringAssert.Contains(wrongCount.Message, "one size per pyramid level");
        StringAssert.Contains(wrongCount.Message, "strides 16, 32");
        var vggStride4 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new FasterRcnnDetectorOptions { Fpn = true, FeatureStride = 4, AnchorSizes = [16f, 32f, 64f, 128f] }.Validate());
        StringAssert.Contains(vggStride4.Message, "ResNet18");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new FasterRcnnDetectorOptions { FeatureStride = 4, Backbone = DetectorBackbone.ResNet18 }.Validate());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (ok with { FpnOutChannels = 0 }).Validate());

        string[] classes = ["a"];
        var plain = new FasterRcnnDetectorOptions();
        Assert.IsFalse(plain.Fingerprint(classes).Contains("fpn", StringComparison.Ordinal), "the default fingerprint is unchanged: old checkpoints resume");
        Assert.AreNotEqual(ok.Fingerprint(classes), (ok with { FpnOutChannels = 64 }).Fingerprint(classes));
        Assert.AreNotEqual((plain with { FeatureStride = 8 }).Fingerprint(classes), ok.Fingerprint(classes));
    }
}
