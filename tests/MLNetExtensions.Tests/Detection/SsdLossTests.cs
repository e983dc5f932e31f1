using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection;

[TestClass]
public sealed class SsdLossTests
{
    [TestInitialize]
    public void Init() => TorchRuntime.EnsureLoaded();

    // One image, 8 default boxes, 3 classes (0 = background). Box 0 is positive (class 1).
    // Background logit of each negative sets its loss: lower background logit = harder negative.
    private static readonly float[,] Logits =
    {
        { 0f, 2f, 0f },   // positive, class 1
        { 3f, 0f, 0f },   // easy negative
        { -2f, 1f, 0f },  // hard
        { 1f, 0f, 0f },
        { -1f, 0f, 1f },  // hard
        { 2f, 0f, 0f },
        { -3f, 0f, 0f },  // hardest
        { 0.5f, 0f, 0f },
    };

    private static double CrossEntropy(int row, int target)
    {
        double max = Math.Max(Logits[row, 0], Math.Max(Logits[row, 1], Logits[row, 2]));
        double sum = 0;
        for (int c = 0; c < 3; c++) sum += Math.Exp(Logits[row, c] - max);
        return -(Logits[row, target] - max - Math.Log(sum));
    }

    private static Tensor LogitsTensor() => tensor(Logits.Cast<float>().ToArray()).reshape(1, 8, 3);

    [TestMethod]
    public void MinesThreeNegativesPerPositiveChosenByHighestLoss()
    {
        var labels = tensor(new long[] { 1, 0, 0, 0, 0, 0, 0, 0 }).reshape(1, 8);
        var targets = zeros(1, 8, 4);
        var boxes = zeros(1, 8, 4);
        var loss = new SsdLoss(negPosRatio: 3);
        var (cls, loc, pos, neg, mask) = loss.ComputeWithMask(LogitsTensor(), boxes, labels, targets);

        Assert.AreEqual(1L, pos);
        Assert.AreEqual(3L, neg);
        CollectionAssert.AreEqual(new[] { false, false, true, false, true, false, true, false }, mask.reshape(-1).data<bool>().ToArray());
        double expected = CrossEntropy(0, 1) + CrossEntropy(2, 0) + CrossEntropy(4, 0) + CrossEntropy(6, 0);
        Assert.AreEqual(expected, cls.item<float>(), 1e-5);
        Assert.AreEqual(0f, loc.item<float>(), 1e-7f);
    }

    [TestMethod]
    public void LocalizationLossIgnoresNegativesAndIsNormalisedByPositives()
    {
        var labels = tensor(new long[] { 1, 0, 0, 0, 0, 0, 0, 2 }).reshape(1, 8);
        var targets = zeros(1, 8, 4);
        var boxes = zeros(1, 8, 4);
        boxes[0, 0] = tensor(new float[] { 0.5f, 0, 0, 0 });    // |d| < 1: smooth L1 = 0.5 d^2 = 0.125
        boxes[0, 7] = tensor(new float[] { 0, 3f, 0, 0 });      // |d| >= 1: smooth L1 = |d| - 0.5 = 2.5
        var loss = new SsdLoss(negPosRatio: 3);
        var before = loss.Compute(LogitsTensor(), boxes, labels, targets).Localization.item<float>();
        Assert.AreEqual((0.125 + 2.5) / 2, before, 1e-6);

        boxes[0, 3] = tensor(new float[] { 100f, -50f, 7f, 9f }); // a negative's regression must not matter
        var after = loss.Compute(LogitsTensor(), boxes, labels, targets).Localization.item<float>();
        Assert.AreEqual(before, after);

        var mse = new SsdLoss(localization: LocalizationLoss.Mse, localizationWeight: 2f);
        Assert.AreEqual(2 * (0.25 + 9.0) / 2, mse.Compute(LogitsTensor(), boxes, labels, targets).Localization.item<float>(), 1e-5);
    }

    [TestMethod]
    public void MiningIsOverTheWholeBatchAndAllBackgroundKeepsThreeNegatives()
    {
        // Image 0: no objects, logits doubled so its negatives are the hardest of the batch.
        // Image 1: one object. Per-batch mining takes all three negatives from image 0; per-image mining would not.
        var logits = cat([LogitsTensor() * 2, LogitsTensor()], 0);
        var labels = tensor(new long[] { 0, 0, 0, 0, 0, 0, 0, 0, /**/ 1, 0, 0, 0, 0, 0, 0, 0 }).reshape(2, 8);
        var (_, _, pos, neg, mask) = new SsdLoss().ComputeWithMask(logits, zeros(2, 8, 4), labels, zeros(2, 8, 4));
        Assert.AreEqual(1L, pos);
        Assert.AreEqual(3L, neg);
        CollectionAssert.AreEqual(new[] { false, false, true, false, true, false, true, false, /**/ false, false, false, false, false, false, false, false },
            mask.reshape(-1).data<bool>().ToArray());

        var noPositives = zeros(1, 8, dtype: ScalarType.Int64);
        var r = new SsdLoss().ComputeWithMask(LogitsTensor(), zeros(1, 8, 4), noPositives, zeros(1, 8, 4));
        Assert.AreEqual(0L, r.Positives);
        Assert.AreEqual(3L, r.Negatives);
        CollectionAssert.AreEqual(new[] { false, false, true, false, true, false, true, false }, r.NegativeMask.reshape(-1).data<bool>().ToArray());
        Assert.AreEqual(0f, r.Loc.item<float>());
    }

    [TestMethod]
    public void GradientsReachOnlyKeptBoxes()
    {
        var logits = LogitsTensor().requires_grad_(true);
        var labels = tensor(new long[] { 1, 0, 0, 0, 0, 0, 0, 0 }).reshape(1, 8);
        var cls = new SsdLoss().Compute(logits, zeros(1, 8, 4), labels, zeros(1, 8, 4)).Classification;
        cls.backward();
        var g = logits.grad!.abs().sum(2).reshape(-1).data<float>().ToArray();
        for (int i = 0; i < 8; i++)
            Assert.AreEqual(i is 0 or 2 or 4 or 6, g[i] > 0, $"box {i}");
    }

    [TestMethod]
    public void IgnoredBoxesAreNeverMinedAndGetNoGradient()
    {
        // Boxes 6 and 2 are the two hardest negatives; marked ignored (-1), mining moves on to 4, 7 and 3.
        var logits = LogitsTensor().requires_grad_(true);
        var labels = tensor(new long[] { 1, 0, SsdLoss.Ignored, 0, 0, 0, SsdLoss.Ignored, 0 }).reshape(1, 8);
        var (cls, _, pos, neg, mask) = new SsdLoss(negPosRatio: 3).ComputeWithMask(logits, zeros(1, 8, 4), labels, zeros(1, 8, 4));
        Assert.AreEqual(1L, pos);
        Assert.AreEqual(3L, neg);
        CollectionAssert.AreEqual(new[] { false, false, false, true, true, false, false, true }, mask.reshape(-1).data<bool>().ToArray());
        double expected = CrossEntropy(0, 1) + CrossEntropy(3, 0) + CrossEntropy(4, 0) + CrossEntropy(7, 0);
        Assert.AreEqual(expected, cls.item<float>(), 1e-5);
        cls.backward();
        var g = logits.grad!.abs().sum(2).reshape(-1).data<float>().ToArray();
        Assert.AreEqual(0f, g[2]);
        Assert.AreEqual(0f, g[6]);

        // Fewer unignored negatives than 3 × positives: all of them, never an ignored one.
        var mostlyIgnored = tensor(new long[] { 1, SsdLoss.Ignored, SsdLoss.Ignored, 0, SsdLoss.Ignored, SsdLoss.Ignored, SsdLoss.Ignored, 0 }).reshape(1, 8);
        var r = new SsdLoss().ComputeWithMask(LogitsTensor(), zeros(1, 8, 4), mostlyIgnored, zeros(1, 8, 4));
        Assert.AreEqual(2L, r.Negatives);
        CollectionAssert.AreEqual(new[] { false, false, false, true, false, false, false, true }, r.NegativeMask.reshape(-1).data<bool>().ToArray());
    }

    [TestMethod]
    public void RejectsBadArguments()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SsdLoss(negPosRatio: 0));
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new SsdLoss().Compute(zeros(8, 3), zeros(1, 8, 4), zeros(1, 8, dtype: ScalarType.Int64), zeros(1, 8, 4)));
        StringAssert.Contains(ex.Message, "Expected logits (N, A, C+1)");
    }
}
