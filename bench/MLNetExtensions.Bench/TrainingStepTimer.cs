using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>Times training steps of several networks in one process, in turns, so that a change in the machine's speed
/// falls on all of them; what the training benches compare (backbones, Faster R-CNN against SSD, FPN against one map).</summary>
internal static class TrainingStepTimer
{
    /// <summary>One AdamW step (lr 1e-3) of <paramref name="loss"/> on <paramref name="network"/>'s trainable parameters, in training mode.</summary>
    public static Action Stepper(nn.Module network, Func<Tensor> loss)
    {
        network.train();
        var optimizer = optim.AdamW(network.parameters().Where(p => p.requires_grad), 1e-3);
        return () =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            loss().backward();
            optimizer.step();
        };
    }

    /// <summary>Median seconds per step of each of <paramref name="steps"/>, run in turns for
    /// <paramref name="warmup"/> untimed and <paramref name="rounds"/> timed rounds.</summary>
    public static double[] AlternatingMedians(Action[] steps, int warmup, int rounds)
    {
        var times = steps.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < warmup + rounds; round++)
            for (int i = 0; i < steps.Length; i++)
            {
                var clock = Stopwatch.StartNew();
                steps[i]();
                if (round >= warmup) times[i].Add(clock.Elapsed.TotalSeconds);
            }
        return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
    }
}
