using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

[TestClass]
public sealed class ExponentialMovingAverageTests
{
    private static nn.Module<Tensor, Tensor> BatchNorm() => nn.BatchNorm1d(2);

    private static void Fill(nn.Module module, float value)
    {
        using var noGrad = no_grad();
        foreach (var (_, t) in module.state_dict())
            if (t.is_floating_point()) t.fill_(value);
            else t.fill_((long)value);
    }

    private static float Value(nn.Module module, string key) => module.state_dict()[key].to_type(ScalarType.Float32).data<float>()[0];

    [TestMethod]
    public void AveragesEveryFloatEntryWithTheRampedDecayAndCopiesCounters()
    {
        TorchRuntime.EnsureLoaded();
        using var live = BatchNorm();
        using var average = BatchNorm();
        Fill(live, 0);
        var ema = new ExponentialMovingAverage(live, average, decay: 0.5);
        Assert.AreEqual(0f, Value(average, "weight"), "starts at the live weights");

        Assert.AreEqual(0.1, ema.DecayAt(0), 1e-12, "(1 + 0) / (10 + 0)");
        Assert.AreEqual(2.0 / 11, ema.DecayAt(1), 1e-12);
        Assert.AreEqual(0.5, ema.DecayAt(100), 1e-12, "capped at the decay");

        Fill(live, 1);
        ema.Update(0);   // 0.1·0 + 0.9·1
        foreach (var key in new[] { "weight", "bias", "running_mean", "running_var" })
            Assert.AreEqual(0.9f, Value(average, key), 1e-6f, key);
        Assert.AreEqual(1f, Value(average, "num_batches_tracked"), "integer buffers are copied");

        Fill(live, 3);
        ema.Update(1);   // 2/11·0.9 + 9/11·3
        Assert.AreEqual(2.0 / 11 * 0.9 + 9.0 / 11 * 3, Value(average, "weight"), 1e-6);
        ema.Update(100);   // 0.5·previous + 0.5·3
        Assert.AreEqual(0.5 * (2.0 / 11 * 0.9 + 9.0 / 11 * 3) + 1.5, Value(average, "running_var"), 1e-6);
        Assert.AreEqual(3f, Value(live, "weight"), "the live network is left alone");
        Assert.IsFalse(average.parameters().Any(p => p.requires_grad), "the average takes no gradients");
    }

    [TestMethod]
    public void RefusesAnotherArchitectureOrABadDecay()
    {
        TorchRuntime.EnsureLoaded();
        using var live = BatchNorm();
        using var other = nn.Linear(2, 2);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new ExponentialMovingAverage(live, other, 0.9));
        StringAssert.StartsWith(ex.Message, "The average network must have the live network's architecture (the same state keys).");
        using var same = BatchNorm();
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ExponentialMovingAverage(live, same, 1.0));
    }
}
