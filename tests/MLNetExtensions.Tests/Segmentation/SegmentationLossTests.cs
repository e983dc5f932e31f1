using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

[TestClass]
public sealed class SegmentationLossTests
{
    [TestInitialize]
    public void Init() => TorchRuntime.EnsureLoaded();

    /// <summary>(2, 3, 4, 5) random logits and targets with about a third of the pixels 255.</summary>
    private static (Tensor Logits, Tensor Targets) Batch(int seed)
    {
        manual_seed(seed);
        var logits = randn(2, 3, 4, 5);
        var targets = randint(0, 3, [2, 4, 5], dtype: ScalarType.Int64);
        var ignore = rand(2, 4, 5).lt(0.35);
        return (logits, where(ignore, full_like(targets, 255), targets));
    }

    /// <summary>The same logits with random values, some of them huge, written under every ignored pixel.</summary>
    private static Tensor ChangedUnderIgnored(Tensor logits, Tensor targets)
    {
        var ignored = targets.eq(255).unsqueeze(1).expand_as(logits);
        return where(ignored, randn_like(logits) * 1000, logits);
    }

    [TestMethod]
    public void CrossEntropyMatchesTorchWithIgnoreIndex()
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = Batch(1);
        var expected = nn.functional.cross_entropy(logits, targets, ignore_index: 255).item<float>();
        Assert.AreEqual(expected, SegmentationCrossEntropy.Compute(logits, targets).item<float>(), 1e-6);
        var weights = tensor(new[] { 0.2f, 1f, 3f });
        var weighted = nn.functional.cross_entropy(logits, targets, weight: weights, ignore_index: 255).item<float>();
        Assert.AreEqual(weighted, SegmentationCrossEntropy.Compute(logits, targets, weights).item<float>(), 1e-6);
    }

    [TestMethod]
    public void CrossEntropyIgnoresThePredictionUnderIgnoredPixelsExactly()
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = Batch(2);
        Assert.IsTrue(targets.eq(255).any().item<bool>());
        var before = SegmentationCrossEntropy.Compute(logits, targets).item<float>();
        var after = SegmentationCrossEntropy.Compute(ChangedUnderIgnored(logits, targets), targets).item<float>();
        Assert.AreEqual(before, after, 0.0, "changing logits under 255 pixels must change nothing");
    }

    [TestMethod]
    public void DiceIgnoresThePredictionUnderIgnoredPixelsExactly()
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = Batch(3);
        var before = SoftDiceLoss.Compute(logits, targets).item<float>();
        var after = SoftDiceLoss.Compute(ChangedUnderIgnored(logits, targets), targets).item<float>();
        Assert.AreEqual(before, after, 0.0);
        // and no gradient flows into logits under ignored pixels
        var leaf = logits.clone().requires_grad_();
        new SegmentationLoss(SegmentationLossKind.CrossEntropyAndDice).Compute(leaf, targets).Total.backward();
        var ignoredGrad = leaf.grad!.masked_select(targets.eq(255).unsqueeze(1).expand_as(logits));
        Assert.IsGreaterThan(0L, ignoredGrad.numel());
        Assert.AreEqual(0f, ignoredGrad.abs().max().item<float>());
        Assert.IsGreaterThan(0f, leaf.grad!.abs().max().item<float>());
    }

    [TestMethod]
    public void DiceOfAPerfectPredictionIsZeroEvenWithAnAbsentClass()
    {
        using var scope = NewDisposeScope();
        // Four classes; class 3 appears in neither target nor prediction; some pixels are ignored.
        var targets = tensor(new long[] { 0, 1, 2, 255, 1, 0, 255, 2 }).reshape(2, 2, 2);
        var safe = where(targets.eq(255), zeros_like(targets), targets);
        var logits = nn.functional.one_hot(safe, 4).permute(0, 3, 1, 2).to(ScalarType.Float32) * 200 - 100;
        Assert.AreEqual(0.0, SoftDiceLoss.Compute(logits, targets).item<float>(), 1e-7);
        Assert.AreEqual(0.0, SegmentationCrossEntropy.Compute(logits, targets).item<float>(), 1e-7);
    }

    [TestMethod]
    public void DiceSumsEachClassOverTheWholeBatchBeforeAveragingClasses()
    {
        using var scope = NewDisposeScope();
        // Two 1×2 images, two classes, probabilities set through logits ln(p/(1-p)) on class 1 against 0 on class 0.
        // Image 0: targets (1, 0), p1 = (0.8, 0.3). Image 1: targets (1, 255), p1 = (0.6, 0.9 ignored).
        float L(double p) => (float)Math.Log(p / (1 - p));
        var logits = stack([zeros(2, 1, 2), tensor(new[] { L(0.8), L(0.3), L(0.6), L(0.9) }).reshape(2, 1, 2)], 1);   // (2, 2, 1, 2)
        var targets = tensor(new long[] { 1, 0, 1, 255 }).reshape(2, 1, 2);
        // Valid pixels: (t=1, p1=.8), (t=0, p1=.3), (t=1, p1=.6).
        // class 1: I = .8 + .6 = 1.4; Σp = 1.7; Σt = 2 → (2.8 + 1) / (3.7 + 1)
        // class 0: I = .7; Σp = .2 + .7 + .4 = 1.3; Σt = 1 → (1.4 + 1) / (2.3 + 1)
        double expected = 1 - ((3.8 / 4.7) + (2.4 / 3.3)) / 2;
        Assert.AreEqual(expected, SoftDiceLoss.Compute(logits, targets).item<float>(), 1e-6);
        // Weighted: class 1 counts three times as much as class 0.
        double weighted = 1 - (1 * (2.4 / 3.3) + 3 * (3.8 / 4.7)) / 4;
        Assert.AreEqual(weighted, SoftDiceLoss.Compute(logits, targets, tensor(new[] { 1f, 3f })).item<float>(), 1e-6);
    }

    [TestMethod]
    public void AllPixelsIgnoredGivesZeroLossAndFiniteGradients()
    {
        using var scope = NewDisposeScope();
        var logits = randn(1, 3, 2, 2).requires_grad_();
        var targets = full(1, 2, 2, 255L, dtype: ScalarType.Int64);
        var parts = new SegmentationLoss(SegmentationLossKind.CrossEntropyAndDice).Compute(logits, targets);
        Assert.AreEqual(0.0, parts.CrossEntropy.item<float>());
        Assert.AreEqual(0.0, parts.Dice.item<float>(), 1e-7);
        parts.Total.backward();
        Assert.IsTrue(logits.grad!.isfinite().all().item<bool>());
    }

    [TestMethod]
    public void CombinedLossIsCrossEntropyPlusWeightedDice()
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = Batch(4);
        var parts = new SegmentationLoss(SegmentationLossKind.CrossEntropyAndDice, diceWeight: 0.5).Compute(logits, targets);
        Assert.AreEqual(parts.CrossEntropy.item<float>() + 0.5 * parts.Dice.item<float>(), parts.Total.item<float>(), 1e-6);
        Assert.AreEqual(parts.Dice.item<float>(), new SegmentationLoss(SegmentationLossKind.Dice).Compute(logits, targets).Total.item<float>());
    }

    [TestMethod]
    public void BadClassWeightsAreRejected()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new SegmentationLoss(SegmentationLossKind.CrossEntropy, classWeights: [1f, -1f]));
        StringAssert.Contains(ex.Message, "Class weights must be finite, non-negative and not all zero; got [1, -1]");
        using var scope = NewDisposeScope();
        var wrongCount = new SegmentationLoss(SegmentationLossKind.CrossEntropy, classWeights: [1f, 2f]);
        var (logits, targets) = Batch(5);
        var ex2 = Assert.ThrowsExactly<ArgumentException>(() => wrongCount.Compute(logits, targets));
        StringAssert.Contains(ex2.Message, "2 class weights were given for 3 classes");
    }
}
