using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

/// <summary>
/// Where each tensor a module of a network returns lies against the activations' kinks (0 for ReLU and LeakyReLU,
/// 0 and 6 for ReLU6), by module and call: a BatchNorm's output is what the ReLU after it decides on, a residual
/// block's (after its ReLU) shows the decision on the sum inside it. Two forwards of the same network (float32 and
/// float64, or two memory layouts) took the same decisions where these agree; where one value lies on the other side,
/// rounding alone moved it (one of 65536 at 5.8e-9 moved a BatchNorm bias's gradient by 3.5e-3), so a test comparing
/// gradients draws another input. A module one forward does not call, such as a convolution
/// <see cref="MLNetExtensions.Torch.Modules.PaddedConvolution"/> pads in float32, is left out.
/// </summary>
internal sealed class ActivationDecisions : IDisposable
{
    /// <summary>Inputs a test draws before it gives up finding one on which two forwards take the same decisions (a
    /// flip was seen on about one input in ten of the gradient tests' networks on 2026-12-07's Ice Lake VM).</summary>
    public const int Inputs = 8;

    private readonly List<Action> _unhook = [];
    private readonly List<(string Module, Tensor Side)> _sides = [];

    private ActivationDecisions(nn.Module network)
    {
        foreach (var (name, module) in network.named_modules())
        {
            // A Sequential returns its last child's output, which that child's hook records already.
            if (module is not nn.Module<Tensor, Tensor> m || module is TorchSharp.Modules.Sequential) continue;
            var hook = m.register_forward_hook((_, _, output) =>
            {
                using var noGrad = no_grad();
                var side = (output > 0).to(ScalarType.Int8) + (output > 6).to(ScalarType.Int8);   // 0, 1 or 2
                _sides.Add((name, side.DetachFromDisposeScope()));
                return output;
            });
            _unhook.Add(hook.remove);
        }
    }

    /// <summary>Runs <paramref name="run"/> (a forward, and a backward if the caller likes: the backward calls no
    /// module) with every module of <paramref name="network"/> recorded; returns its result and the decisions, which
    /// the caller disposes.</summary>
    public static (T Result, ActivationDecisions Decisions) Record<T>(nn.Module network, Func<T> run)
    {
        var decisions = new ActivationDecisions(network);
        try
        {
            return (run(), decisions);
        }
        catch
        {
            decisions.Dispose();
            throw;
        }
        finally
        {
            decisions.Stop();
        }
    }

    /// <summary>
    /// Runs <paramref name="attempt"/> on input 0, 1, … (at most <see cref="Inputs"/>), each in its own dispose scope,
    /// until the two recorded forwards it returns took the same decisions, then runs the assertions it returned with the
    /// count of inputs skipped before; fails, listing the flips, when every input had one.
    /// </summary>
    /// <param name="what">The network and the two forwards, for the failure message.</param>
    /// <param name="attempt">Input index → the two forwards' decisions and the assertions to run on an input without a flip.</param>
    public static void OnAnInputWithoutFlips(string what, Func<int, (ActivationDecisions First, ActivationDecisions Second, Action<int> Check)> attempt)
    {
        var flips = new List<string>();
        for (int input = 0; input < Inputs; input++)
        {
            using var scope = NewDisposeScope();
            var (first, second, check) = attempt(input);
            string? flip;
            using (first)
            using (second)
                flip = first.FirstDifference(second);
            if (flip is null)
            {
                check(flips.Count);
                return;
            }
            flips.Add($"input {input}: {flip}");
        }
        Assert.Fail($"{what}: on each of {Inputs} inputs the two forwards took an activation decision differently: {string.Join("; ", flips)}");
    }

    private void Stop()
    {
        foreach (var unhook in _unhook) unhook();
        _unhook.Clear();
    }

    /// <summary>The first module whose output lies on another side of a kink than in <paramref name="other"/>, with
    /// the count of such values; null where all agree.</summary>
    public string? FirstDifference(ActivationDecisions other)
    {
        var others = other._sides.GroupBy(s => s.Module).ToDictionary(g => g.Key, g => g.Select(s => s.Side).ToList());
        foreach (var group in _sides.GroupBy(s => s.Module))
        {
            if (!others.TryGetValue(group.Key, out var otherSides)) continue;
            var sides = group.Select(s => s.Side).ToList();
            Assert.HasCount(sides.Count, otherSides, $"{group.Key} is called as often in both forwards");
            for (int i = 0; i < sides.Count; i++)
            {
                long differing = sides[i].ne(otherSides[i]).sum().item<long>();
                if (differing > 0) return $"{differing} of {sides[i].numel()} values of {group.Key}";
            }
        }
        return null;
    }

    public void Dispose()
    {
        Stop();
        foreach (var (_, side) in _sides) side.Dispose();
    }
}
