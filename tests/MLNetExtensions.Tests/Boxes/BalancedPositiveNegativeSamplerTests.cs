using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Boxes;

[TestClass]
public sealed class BalancedPositiveNegativeSamplerTests
{
    [ClassInitialize]
    public static void LoadTorch(TestContext _) => TorchRuntime.EnsureLoaded();

    /// <summary>10 positives (labels 1 and 3), 50 negatives, 20 ignored (-1) and 5 between thresholds (-2), shuffled.</summary>
    private static long[] Labels()
    {
        var labels = Enumerable.Repeat(1L, 7).Concat(Enumerable.Repeat(3L, 3)).Concat(Enumerable.Repeat(0L, 50))
            .Concat(Enumerable.Repeat(-1L, 20)).Concat(Enumerable.Repeat(-2L, 5)).ToArray();
        new Random(5).Shuffle(labels);
        return labels;
    }

    [TestMethod]
    public void DrawsTheTargetShareOfPositivesAndFillsWithNegatives()
    {
        using var scope = torch.NewDisposeScope();
        var labels = Labels();
        using var sampler = new BalancedPositiveNegativeSampler(16, 0.25f, seed: 1);
        var (positive, negative) = Masks(sampler, labels);
        Assert.AreEqual(4, positive.Count(p => p));
        Assert.AreEqual(12, negative.Count(n => n));
        for (int i = 0; i < labels.Length; i++)
        {
            if (positive[i]) Assert.IsTrue(labels[i] >= 1, $"anchor {i} drawn as positive has label {labels[i]}");
            if (negative[i]) Assert.AreEqual(0L, labels[i], $"anchor {i} drawn as negative");
        }
    }

    [TestMethod]
    public void ShortagesAreProtected()
    {
        using var scope = torch.NewDisposeScope();
        using var sampler = new BalancedPositiveNegativeSampler(16, 0.5f, seed: 1);
        var (positive, negative) = Masks(sampler, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1]);
        Assert.AreEqual((1, 15), (positive.Count(p => p), negative.Count(n => n)), "too few positives: negatives fill up");
        (positive, negative) = Masks(sampler, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, -1, -1]);
        Assert.AreEqual((8, 2), (positive.Count(p => p), negative.Count(n => n)), "too few negatives: the batch stays short");
        (positive, negative) = Masks(sampler, [-1, -1]);
        Assert.AreEqual((0, 0), (positive.Count(p => p), negative.Count(n => n)));
    }

    [TestMethod]
    public void TheSameSeedDrawsTheSameAndTheGeneratorMovesOn()
    {
        using var scope = torch.NewDisposeScope();
        var labels = Labels();
        using var first = new BalancedPositiveNegativeSampler(16, 0.25f, seed: 42);
        using var second = new BalancedPositiveNegativeSampler(16, 0.25f, seed: 42);
        var a = Masks(first, labels);
        var b = Masks(second, labels);
        CollectionAssert.AreEqual(a.Positive, b.Positive);
        CollectionAssert.AreEqual(a.Negative, b.Negative);
        var next = Masks(first, labels);
        CollectionAssert.AreNotEqual(a.Negative, next.Negative, "a second draw from the same generator differs (12 of 50)");
        using var generator = new Generator(42);
        using var shared = new BalancedPositiveNegativeSampler(16, 0.25f, generator);
        var (perImagePositive, perImageNegative) = shared.Sample([torch.tensor(labels), torch.tensor(labels)]);
        CollectionAssert.AreEqual(a.Negative, perImageNegative[0].data<bool>().ToArray(), "a caller's generator seeded alike draws alike");
        CollectionAssert.AreEqual(next.Negative, perImageNegative[1].data<bool>().ToArray());
    }

    [TestMethod]
    public void BadSettingsAndLabelsAreRejected()
    {
        using var scope = torch.NewDisposeScope();
        var range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BalancedPositiveNegativeSampler(0, 0.5f, seed: 1));
        StringAssert.StartsWith(range.Message, "The batch size per image must be positive.");
        range = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BalancedPositiveNegativeSampler(8, 1.5f, seed: 1));
        StringAssert.StartsWith(range.Message, "The positive fraction must be in [0, 1].");
        using var sampler = new BalancedPositiveNegativeSampler(8, 0.5f, seed: 1);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => sampler.Sample(torch.zeros(5)));
        StringAssert.StartsWith(ex.Message, "'labels' has shape (5) and dtype Float32; expected a 1-D integer tensor (>= 1 positive, 0 negative, < 0 ignored).");
    }

    private static (bool[] Positive, bool[] Negative) Masks(BalancedPositiveNegativeSampler sampler, long[] labels)
    {
        var (positive, negative) = sampler.Sample(torch.tensor(labels));
        Assert.AreEqual(ScalarType.Bool, positive.dtype);
        CollectionAssert.AreEqual(new long[] { labels.Length }, positive.shape);
        var p = positive.data<bool>().ToArray();
        var n = negative.data<bool>().ToArray();
        for (int i = 0; i < p.Length; i++) Assert.IsFalse(p[i] && n[i], $"anchor {i} drawn twice");
        return (p, n);
    }
}
