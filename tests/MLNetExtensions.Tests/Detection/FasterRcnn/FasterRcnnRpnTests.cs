using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>
/// The proposal stage against torchvision 0.14 (TestData/FasterRcnn/make_faster_rcnn_fixtures.py): anchors, anchor
/// labels with all three values, <c>filter_proposals</c>; and the neutral-anchor rule of the loss and the accuracy.
/// </summary>
[TestClass]
public sealed class FasterRcnnRpnTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    private static SafetensorsFile Fixture() => SafetensorsFile.Open(TempFolder.Fixture(Path.Combine("FasterRcnn", "rpn.safetensors")));

    private static RegionProposalNetwork Rpn(RegionProposalNetwork.RpnSettings? settings = null)
        => new(8, new AnchorGenerator([32f, 64f], [0.5f, 1f, 2f]), 3, 4, 48, 64, settings ?? new RegionProposalNetwork.RpnSettings());

    [TestMethod]
    public void AnchorsAreTorchvisions()
    {
        var file = Fixture();
        var expected = file.ReadTensor("anchors").data<float>().ToArray();
        CollectionAssert.AreEqual(expected, Rpn().Anchors(CPU).data<float>().ToArray());
        Assert.AreEqual(6, new AnchorGenerator([32f, 64f], [0.5f, 1f, 2f]).AnchorsPerLocation);
        Assert.AreEqual(9, new AnchorGenerator([32f, 64f, 128f], [0.5f, 1f, 2f]).AnchorsPerLocation, "the paper's 9 anchors per location");
    }

    [TestMethod]
    public void AnchorLabelsHaveAllThreeValuesAsTorchvisionGivesThem()
    {
        var file = Fixture();
        var (labels, matched) = Rpn().AssignTargets(file.ReadTensor("match.gt"), file.ReadTensor("match.anchors"));
        var expected = file.ReadTensor("match.labels").to(ScalarType.Int64).data<long>().ToArray();
        CollectionAssert.AreEqual(new long[] { 1, -1, 0, 0, 1, 1, -1 }, expected, "the fixture: IoU 1 and 0.9 positive, 0.5 and 0.68 neutral, the second object's best anchor (0.47) positive");
        CollectionAssert.AreEqual(expected, labels.data<long>().ToArray());
        CollectionAssert.AreEqual(new float[] { 52, 52, 62, 62 }, matched[5].data<float>().ToArray());
    }

    [TestMethod]
    public void FilterProposalsKeepsWhatTorchvisionKeeps()
    {
        var file = Fixture();
        var (boxes, scores) = RegionProposalNetwork.FilterProposals(file.ReadTensor("proposals"), file.ReadTensor("objectness"), 100, 120,
            preNmsTopN: 200, postNmsTopN: 50, nmsThreshold: 0.7f, minSize: 1e-3f, scoreThreshold: 0f);
        AssertKeptAsTorchvision(file, boxes, scores);
    }

    /// <summary>Each image's kept boxes (1e-5 px) and scores (1e-6) are the fixture's <c>kept.I.*</c>, in its order.</summary>
    internal static void AssertKeptAsTorchvision(SafetensorsFile file, Tensor[] boxes, Tensor[] scores)
    {
        for (int i = 0; i < boxes.Length; i++)
        {
            var expectedBoxes = file.ReadTensor($"kept.{i}.boxes");
            var expectedScores = file.ReadTensor($"kept.{i}.scores");
            CollectionAssert.AreEqual(expectedBoxes.shape, boxes[i].shape, $"image {i}: count");
            Assert.IsLessThan(1e-5, (boxes[i] - expectedBoxes).abs().max().item<float>(), $"image {i}: boxes");
            Assert.IsLessThan(1e-6, (scores[i] - expectedScores).abs().max().item<float>(), $"image {i}: scores");
        }
    }

    /// <summary>A hand-made image whose anchors get all three labels, and losses on random predictions.</summary>
    private static (RegionProposalNetwork Rpn, Tensor Objectness, Tensor Deltas, Tensor Labels, Tensor Targets) NeutralCase()
    {
        var rpn = Rpn(new RegionProposalNetwork.RpnSettings(BatchSizePerImage: 64));
        var anchors = rpn.Anchors(CPU);                                                         // (72, 4)
        var gt = tensor(new float[] { 0, 0, 22, 12, 20, 10, 60, 40 }).reshape(2, 4);
        var (labels, matched) = rpn.AssignTargets(gt, anchors);
        var targets = BoxCoderRpn.Encode(matched, anchors);
        var g = new Generator(3);
        return (rpn, randn(1, 72, generator: g), randn(1, 72, 4, generator: g), labels.unsqueeze(0), targets.unsqueeze(0));
    }

    private static readonly MLNetExtensions.Torch.Boxes.BoxCoder BoxCoderRpn = MLNetExtensions.Torch.Boxes.BoxCoder.Rpn();

    [TestMethod]
    public void NeutralAnchorsAreInNeitherTheLossNorTheAccuracy()
    {
        var (rpn, objectness, deltas, labels, targets) = NeutralCase();
        var values = labels.data<long>().ToArray();
        Assert.IsTrue(values.Contains(1) && values.Contains(0) && values.Contains(-1), $"all three labels: {string.Join(",", values.Distinct())}");
        var (l1, b1, a1) = rpn.Loss(objectness, deltas, labels, targets, new Generator(11));

        // Any objectness and deltas at the neutral anchors: the same losses and accuracy.
        var neutral = labels.eq(-1);
        var (l2, b2, a2) = rpn.Loss(objectness.masked_fill(neutral, 25f), deltas.masked_fill(neutral.unsqueeze(2), -7f), labels, targets, new Generator(11));
        Assert.AreEqual(l1.item<float>(), l2.item<float>());
        Assert.AreEqual(b1.item<float>(), b2.item<float>());
        Assert.AreEqual(a1.item<float>(), a2.item<float>());

        // And the predictions at a non-neutral anchor do change them: the comparison above can fail.
        var positive = labels.eq(1);
        var flipped = where(positive, objectness.sign().neg() * 25f, objectness);                  // every positive now on the wrong side
        var (l3, _, a3) = rpn.Loss(flipped, deltas, labels, targets, new Generator(11));
        Assert.AreNotEqual(l1.item<float>(), l3.item<float>());
        Assert.AreNotEqual(a1.item<float>(), a3.item<float>());
    }

    [TestMethod]
    public void AnchorsTheSamplerDidNotDrawAreInNeitherTheLossNorTheAccuracy()
    {
        var (rpn, objectness, deltas, labels, targets) = NeutralCase();
        // 8 anchors per image drawn (at most 4 positive): most negatives are left out.
        var small = Rpn(new RegionProposalNetwork.RpnSettings(BatchSizePerImage: 8));
        using var drawGenerator = new Generator(11);
        using var sampler = new MLNetExtensions.Torch.Boxes.BalancedPositiveNegativeSampler(8, 0.5f, drawGenerator);
        var (pos, neg) = sampler.Sample(labels[0]);
        var notDrawn = pos.logical_or(neg).logical_not().unsqueeze(0);                            // (1, 72)
        Assert.IsGreaterThan(30L, notDrawn.sum().item<long>());
        var (l1, b1, a1) = small.Loss(objectness, deltas, labels, targets, new Generator(11));
        var (l2, b2, a2) = small.Loss(objectness.masked_fill(notDrawn, 30f), deltas.masked_fill(notDrawn.unsqueeze(2), 5f), labels, targets, new Generator(11));
        Assert.AreEqual(l1.item<float>(), l2.item<float>());
        Assert.AreEqual(b1.item<float>(), b2.item<float>());
        Assert.AreEqual(a1.item<float>(), a2.item<float>());
    }
}
