using System.Diagnostics;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using HeldAdamW = MLNetExtensions.Torch.Training.HeldScalars.AdamW;

namespace MLNetExtensions.Bench;

/// <summary>
/// The library's AdamW updating its flat buffers chunk by chunk (<see cref="ContiguousParameters.Chunks"/>, 128 Ki
/// floats) against the same update over whole buffers (the baseline, what it did before), in the training steps of the
/// quickstart DeepLab and SSD networks (batch 8, the quickstarts' learning rates and decays), where backward has just
/// pushed the optimizer's buffers out of the cache. Two copies of each network with the same weights, one per
/// optimizer; blocks of steps in turns; medians. The two must end with the same weights (bit for bit).
/// </summary>
public sealed class AdamWChunksBenchmark : IBenchmark
{
    private const int Batch = 8, Blocks = 12, BlockSteps = 5, Warmup = 3;

    /// <summary>A chunk longer than any buffer: the update over whole buffers.</summary>
    private const long WholeBuffers = 1L << 40;

    public string Name => "adamw-chunks";
    public string Description => "AdamW's flat update chunk by chunk vs over whole buffers, in the quickstart DeepLab and SSD training steps";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        output.WriteLine($"  libtorch threads: {get_num_threads()}; batch {Batch}; {Blocks} blocks of {BlockSteps} steps in turns; chunk {ContiguousParameters.CpuChunkLength} floats");
        Compare(output, "DeepLab v3+ (64×64, ResNetLite ×0.5, ASPP 64)", () =>
        {
            var network = PyTorchParityBenchmark.QuickstartDeepLab(CPU).Network;
            return (network, x => [network.call(x)]);
        }, rand(new long[] { Batch, 3, 64, 64 }, generator: new Generator(2)) * 255f, 5e-3, 1e-4);
        var ssd = OneDnnIsaBenchmark.QuickstartOptions();
        Compare(output, "SSD (128×128, VggLite ×0.5, top-down fusion)", () =>
        {
            torch.manual_seed(1);
            var network = (SsdNetwork)new SsdDetectorModel(ssd, OneDnnIsaBenchmark.Classes, CPU).Network;
            return (network, x => { var (c, r) = network.call(x); return [c, r]; });
        }, rand(new long[] { Batch, 3, ssd.InputHeight, ssd.InputWidth }, generator: new Generator(1)) * 255f, 3e-3, 0.1);
    }

    private static void Compare(TextWriter output, string name, Func<(nn.Module Network, Func<Tensor, Tensor[]> Forward)> build, Tensor images, double rate, double decay)
    {
        var (chunkedNet, chunkedForward) = build();
        var (wholeNet, wholeForward) = build();
        chunkedNet.train();
        wholeNet.train();
        using var chunked = new HeldAdamW(chunkedNet.parameters().ToList(), rate, decay);
        using var whole = new HeldAdamW(wholeNet.parameters().ToList(), rate, decay, WholeBuffers);
        long length = chunked.Contiguous!.Values.shape[0];
        var generator = new Generator(11);
        Tensor[] weights;
        using (no_grad()) weights = chunkedForward(images).Select(o => randn(o.shape, generator: generator)).ToArray();
        var (chunkedSteps, wholeSteps, chunkedUpdates, wholeUpdates) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        var ratios = new List<double>();
        Steps(chunkedForward, chunked, images, weights, Warmup, [], []);
        Steps(wholeForward, whole, images, weights, Warmup, [], []);
        for (int block = 0; block < Blocks; block++)
        {
            double c = Steps(chunkedForward, chunked, images, weights, BlockSteps, chunkedSteps, chunkedUpdates);
            double w = Steps(wholeForward, whole, images, weights, BlockSteps, wholeSteps, wholeUpdates);
            ratios.Add(w / c);
        }
        double differ = chunkedNet.parameters().Zip(wholeNet.parameters(), (a, b) => (a - b).abs().max().item<float>()).Max();
        if (differ > 0) throw new InvalidOperationException($"{name}: the chunked and the whole-buffer updates ended {differ:G3} apart.");
        output.WriteLine($"  {name}: {length} floats a buffer, {(length + ContiguousParameters.CpuChunkLength - 1) / ContiguousParameters.CpuChunkLength} chunks; the same weights after {Warmup + Blocks * BlockSteps} steps");
        output.WriteLine($"    optimizer step   chunked {Median(chunkedUpdates) * 1e3,6:F2} ms   whole buffers {Median(wholeUpdates) * 1e3,6:F2} ms   whole ÷ chunked {Median(wholeUpdates) / Median(chunkedUpdates):F2}");
        output.WriteLine($"    training step    chunked {Batch / Median(chunkedSteps),6:F1} img/s   whole buffers {Batch / Median(wholeSteps),6:F1} img/s");
        output.WriteLine($"    chunked ÷ whole buffers (images/s, median of the paired blocks' ratios): {Median(ratios):F3}");
    }

    /// <summary>Runs <paramref name="count"/> steps; returns their median seconds and adds each step's and its update's seconds.</summary>
    private static double Steps(Func<Tensor, Tensor[]> forward, optim.Optimizer optimizer, Tensor images, Tensor[] weights, int count, List<double> steps, List<double> updates)
    {
        var times = new List<double>();
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            torch.manual_seed(updates.Count);   // the same dropout masks for both copies at the same step
            var clock = Stopwatch.StartNew();
            optimizer.zero_grad();
            forward(images).Zip(weights, (o, w) => (o * w).sum()).Aggregate((a, b) => a + b).backward();
            double backward = clock.Elapsed.TotalSeconds;
            optimizer.step();
            double total = clock.Elapsed.TotalSeconds;
            times.Add(total);
            updates.Add(total - backward);
        }
        steps.AddRange(times);
        return Median(times);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
