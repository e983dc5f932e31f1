using System.Diagnostics;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// <see cref="BilinearResize"/> against libtorch's <c>interpolate(size, mode: Bilinear, align_corners: false)</c> (the
/// baseline, what DeepLab called before) at DeepLab's shapes, batch 8: the quickstart's logits (6 classes, 16×16 → 64×64)
/// and decoder upsampling (64 channels, 4×4 → 16×16, NCHW and channels-last), and VOC-sized logits (21 classes, 128×128
/// → 512×512). Forward and forward + backward to the input, the two in turns, medians of 9 rounds; the same numbers are
/// checked before timing.
/// </summary>
public sealed class BilinearResizeBenchmark : IBenchmark
{
    private const int Batch = 8, Rounds = 9;

    public string Name => "bilinear-resize";
    public string Description => "bilinear resizing as two matrix products (BilinearResize) vs libtorch's interpolate at DeepLab's shapes, forward and backward";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        output.WriteLine($"  libtorch threads: {get_num_threads()}; batch {Batch}; medians of {Rounds} rounds in turns");
        foreach (var (channels, size, target, channelsLast) in new[] { (6L, 16L, 64L, false), (64L, 4L, 16L, false), (64L, 4L, 16L, true), (21L, 128L, 512L, false) })
        {
            var x = randn(new long[] { Batch, channels, size, size }, generator: new Generator(1));
            if (channelsLast) x = ChannelsLastLayout.Apply(x);
            using (NewDisposeScope())
            using (no_grad())
            {
                double diff = (BilinearResize.Apply(x, target, target) - Interpolate(x, target)).abs().max().item<float>();
                if (diff > 1e-5) throw new InvalidOperationException($"BilinearResize and interpolate differ by {diff:G3}.");
            }
            int repeats = size >= 64 ? 3 : 50;
            var times = new Dictionary<(bool Backward, bool Ours), List<double>>();
            for (int round = 0; round <= Rounds; round++)   // round 0 warms up
            {
                foreach (bool backward in new[] { false, true })
                {
                    foreach (bool ours in new[] { true, false })
                    {
                        double t = Seconds(x, target, backward, repeats, ours ? input => BilinearResize.Apply(input, target, target) : input => Interpolate(input, target));
                        if (round > 0) (times.TryGetValue((backward, ours), out var list) ? list : times[(backward, ours)] = []).Add(t);
                    }
                }
            }
            output.WriteLine($"  {channels} channels {size}×{size} → {target}×{target}{(channelsLast ? ", channels-last" : "")}:");
            foreach (bool backward in new[] { false, true })
            {
                double ours = Median(times[(backward, true)]), baseline = Median(times[(backward, false)]);
                output.WriteLine($"    {(backward ? "forward + backward" : "forward           ")}  BilinearResize {ours * 1e3,8:F3} ms   interpolate {baseline * 1e3,8:F3} ms   interpolate ÷ BilinearResize {baseline / ours:F2}");
            }
        }
    }

    private static Tensor Interpolate(Tensor x, long size)
        => nn.functional.interpolate(x, size: [size, size], mode: InterpolationMode.Bilinear, align_corners: false);

    /// <summary>Seconds of one call to <paramref name="target"/>² (mean of <paramref name="repeats"/>), with the backward of a
    /// weighted sum when asked.</summary>
    private static double Seconds(Tensor x, long target, bool backward, int repeats, Func<Tensor, Tensor> resize)
    {
        using var scope = NewDisposeScope();
        var input = x.detach().requires_grad_(backward);
        var weights = randn(new long[] { x.shape[0], x.shape[1], target, target }, generator: new Generator(2));
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
        {
            using var step = NewDisposeScope();
            if (!backward)
            {
                using (no_grad()) resize(input);
                continue;
            }
            (resize(input) * weights).sum().backward();
        }
        return clock.Elapsed.TotalSeconds / repeats;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
