using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// An exponential moving average of a network's weights, kept in a second network of the same architecture (torchvision's
/// reference scripts' <c>--model-ema</c>, Polyak averaging). After each optimizer step every floating-point entry of the
/// state (weights and BatchNorm's running statistics) moves to <c>d·average + (1 − d)·live</c>; integer entries are copied.
/// <c>d = min(decay, (1 + n) / (10 + n))</c> after <c>n</c> updates (TensorFlow's <c>num_updates</c> rule), so the average
/// does not carry the random initialisation for thousands of steps. The average is what gets validated and exported: it
/// smooths the last few hundred steps' mini-batch noise out of the kept model.
/// </summary>
internal sealed class ExponentialMovingAverage
{
    private readonly (Tensor Average, Tensor Live)[] _pairs;
    private readonly double _decay;

    /// <summary>Pairs the two networks' state entries by name and starts the average at the live weights.</summary>
    public ExponentialMovingAverage(nn.Module live, nn.Module average, double decay)
    {
        if (!(decay > 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "The decay must be within (0, 1).");
        _decay = decay;
        var liveState = live.state_dict();
        var averageState = average.state_dict();
        if (!liveState.Keys.Order().SequenceEqual(averageState.Keys.Order()))
            throw new ArgumentException("The average network must have the live network's architecture (the same state keys).", nameof(average));
        _pairs = liveState.Select(kv => (averageState[kv.Key], kv.Value)).ToArray();
        foreach (var p in average.parameters()) p.requires_grad = false;
        using var noGrad = no_grad();
        foreach (var (averageEntry, liveEntry) in _pairs) averageEntry.copy_(liveEntry);
    }

    /// <summary>The decay used for update number <paramref name="updates"/> (0-based).</summary>
    public double DecayAt(int updates) => Math.Min(_decay, (1.0 + updates) / (10.0 + updates));

    /// <summary>Moves the average toward the live weights; <paramref name="updates"/> is how many updates came before.</summary>
    public void Update(int updates)
    {
        // One Scalar held for the whole update: TorchSharp frees temporary Scalars in their finalizer, which can run while
        // a native op still reads them (dotnet/TorchSharp#1434).
        double decay = DecayAt(updates);
        using Scalar keep = decay.ToScalar(), take = (1.0 - decay).ToScalar();
        using var noGrad = no_grad();
        foreach (var (average, live) in _pairs)
        {
            if (average.is_floating_point()) average.mul_(keep).add_(live, take);
            else average.copy_(live);
        }
    }
}
