using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class MatcherTests
{
    // Ground truth: one box matched well, one matched in the ignore band, one whose best anchors (7 and 8, tied at
    // IoU 3/7) are below both thresholds.
    private static readonly float[] GroundTruth = [0, 0, 10, 10, 20, 20, 40, 40, 60, 60, 70, 70];
    private static readonly float[] Anchors =
    [
        0, 0, 10, 10, 1, 1, 11, 11, 5, 5, 15, 15, 20, 20, 38, 40, 25, 25, 45, 45,
        50, 50, 60, 60, 30, 30, 50, 50, 64, 60, 74, 70, 56, 60, 66, 70,
    ];

    [ClassInitialize]
    public static void LoadTorch(TestContext _) => TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void MatchesTorchvisionMatcherAndSsdMatcher()
    {
        // torchvision 0.14 Matcher(0.7, 0.3, allow_low_quality_matches) and SSDMatcher(0.5) on box_iou(gt, anchors)
        // (computed once with python3-torchvision).
        using var scope = torch.NewDisposeScope();
        var quality = BoxIou.Pairwise(Tensor(GroundTruth), Tensor(Anchors));
        CollectionAssert.AreEqual(new long[] { 0, -2, -1, 1, -2, -1, -1, -2, -2 }, Match(new Matcher(0.7f, 0.3f), quality));
        CollectionAssert.AreEqual(new long[] { 0, -2, -1, 1, -2, -1, -1, 2, 2 }, Match(new Matcher(0.7f, 0.3f, allowLowQualityMatches: true), quality));
        CollectionAssert.AreEqual(new long[] { 0, 0, -1, 1, -1, -1, -1, 2, -1 }, Match(new SsdMatcher(0.5f), quality));
    }

    [TestMethod]
    public void SsdMatcherWithAnIgnoreBandLeavesNearMissesOutButKeepsBestPriors()
    {
        // IoU in [0.3, 0.5): anchors 4 (0.32 with box 1), 7 and 8 (3/7 with box 2) are ignored, but box 2 still claims
        // its best prior (anchor 7, the first of the tie), as SsdMatcher(0.5) does.
        using var scope = torch.NewDisposeScope();
        var quality = BoxIou.Pairwise(Tensor(GroundTruth), Tensor(Anchors));
        CollectionAssert.AreEqual(new long[] { 0, 0, -1, 1, -2, -1, -1, 2, -2 }, Match(new SsdMatcher(0.5f, ignoreThreshold: 0.3f), quality));
        CollectionAssert.AreEqual(Match(new SsdMatcher(0.5f), quality), Match(new SsdMatcher(0.5f, ignoreThreshold: 0.5f), quality));
    }

    [TestMethod]
    public void SingleThresholdMatcherHasNoIgnoredBand()
    {
        using var scope = torch.NewDisposeScope();
        var quality = BoxIou.Pairwise(Tensor(GroundTruth), Tensor(Anchors));
        CollectionAssert.AreEqual(new long[] { 0, 0, -1, 1, -1, -1, -1, -1, -1 }, Match(new Matcher(0.5f), quality));
        CollectionAssert.AreEqual(new long[] { 0, 0, -1, 1, 1, -1, -1, 2, 2 }, Match(new Matcher(0.3f), quality));
    }

    [TestMethod]
    public void GroundTruthThatOverlapsNoAnchorForcesNoMatch()
    {
        // torchvision would match anchors 1, 2 and 5 through the zero-overlap box [100, 100, 110, 110] (every anchor
        // "ties" at IoU 0) and give SSD's anchor 0 to it; here that box simply matches nothing.
        using var scope = torch.NewDisposeScope();
        var quality = BoxIou.Pairwise(Tensor([0, 0, 10, 10, 20, 20, 40, 40, 100, 100, 110, 110]), Tensor(Anchors[..28]));
        CollectionAssert.AreEqual(new long[] { 0, -2, -1, 1, -2, -1, -1 }, Match(new Matcher(0.7f, 0.3f, allowLowQualityMatches: true), quality));
        CollectionAssert.AreEqual(new long[] { 0, 0, -1, 1, -1, -1, -1 }, Match(new SsdMatcher(), quality));
    }

    [TestMethod]
    public void NoGroundTruthMakesEveryAnchorBackground()
    {
        using var scope = torch.NewDisposeScope();
        var none = torch.zeros(0, 9);
        CollectionAssert.AreEqual(Enumerable.Repeat(-1L, 9).ToArray(), Match(new Matcher(0.7f, 0.3f, true), none));
        CollectionAssert.AreEqual(Enumerable.Repeat(-1L, 9).ToArray(), Match(new SsdMatcher(), none));
        Assert.AreEqual(0, Match(new SsdMatcher(), torch.zeros(3, 0)).Length);
    }

    [TestMethod]
    public void BadSettingsAndInputAreRejected()
    {
        using var scope = torch.NewDisposeScope();
        var range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new Matcher(0.3f, 0.7f));
        StringAssert.StartsWith(range.Message, "The low threshold must be a finite number at most the high threshold (0.3).");
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new Matcher(0.5f).Match(torch.zeros(3)));
        StringAssert.StartsWith(ex.Message, "'matchQuality' has shape (3) and dtype Float32; expected a (G, P) floating-point matrix, ground truth by prediction.");
    }

    private static Tensor Tensor(float[] boxes) => torch.tensor(boxes).view(-1, 4);

    private static long[] Match(Matcher matcher, Tensor quality)
    {
        using var matches = matcher.Match(quality);
        Assert.AreEqual(ScalarType.Int64, matches.dtype);
        return matches.data<long>().ToArray();
    }
}
