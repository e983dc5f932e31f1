using System.Diagnostics;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// <see cref="RoiAlign"/> at Faster R-CNN's size: 512 RoIs × 256 channels pooled to 7×7 with sampling ratio 2 from one
/// 38×38 map (aligned), forward and forward + backward to the map. Baseline: the direct form run here, which gathers
/// the 4 corners of every sample point from the channels-last map, weights them and averages each bin's 2×2 samples
/// (the same numbers, checked before timing). Alternating runs, medians.
/// </summary>
public sealed class RoiAlignBenchmark : IBenchmark
{
    private const int Rois = 512, Channels = 256, Size = 38, Output = 7, Ratio = 2;
    private const float Scale = 1f / 16;

    public string Name => "roialign";
    public string Description => "RoI Align, 512 RoIs × 256 channels, 7×7, ratio 2, 38×38 map: forward and backward vs corner gathers";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(0);
        var features = randn(1, Channels, Size, Size);
        var corners = rand(Rois, 2) * (Size * 16);                                           // (K, 2) x1, y1 in input pixels
        var sizes = rand(Rois, 2) * (Size * 8) + 8;                                          // (K, 2) width, height
        var rois = cat([zeros(Rois, 1), corners, corners + sizes], 1);                       // (K, 5), some past the border
        using (NewDisposeScope())
        using (no_grad())
        {
            double diff = (RoiAlign.Apply(features, rois, Output, Output, Scale, Ratio) - Gathered(features, rois)).abs().max().item<float>();
            if (diff > 1e-4) throw new InvalidOperationException($"RoiAlign and its gather baseline differ by {diff:G3}.");
        }

        var ours = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var baseline = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        for (int run = 0; run < 7; run++)
        {
            foreach (bool backward in new[] { false, true })
            {
                ours[backward].Add(Seconds(features, backward, x => RoiAlign.Apply(x, rois, Output, Output, Scale, Ratio)));
                baseline[backward].Add(Seconds(features, backward, x => Gathered(x, rois)));
            }
        }
        output.WriteLine($"libtorch threads: {get_num_threads()}; {Rois} RoIs × {Channels} channels, {Output}×{Output}, ratio {Ratio}, {Size}×{Size} map");
        foreach (bool backward in new[] { false, true })
        {
            double a = Median(ours[backward]), b = Median(baseline[backward]);
            output.WriteLine($"  {(backward ? "forward + backward" : "forward           ")}  RoiAlign {a * 1e3,8:F1} ms   corner gathers {b * 1e3,8:F1} ms   ratio {b / a:F2}x");
        }
    }

    // Seconds of one forward (and backward of the sum) of pool on a fresh leaf copy of the map; the first run warms up.
    private static double Seconds(Tensor features, bool backward, Func<Tensor, Tensor> pool)
    {
        using var scope = NewDisposeScope();
        var x = features.detach().clone().requires_grad_(backward);
        var clock = Stopwatch.StartNew();
        if (backward) pool(x).sum().backward();
        else using (no_grad()) pool(x);
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> times) => times.Skip(1).Order().ElementAt((times.Count - 1) / 2);

    /// <summary>The direct form for one image, aligned, fixed ratio: every sample's 4 corners gathered and weighted.</summary>
    private static Tensor Gathered(Tensor features, Tensor rois)
    {
        long c = features.shape[1], h = features.shape[2], w = features.shape[3], k = rois.shape[0];
        const int cells = Output * Ratio;
        var flat = features[0].permute(1, 2, 0).reshape(h * w, c);                             // (H·W, C)
        var start = rois[.., 1..3] * Scale - 0.5;                                           // (K, 2)
        var bin = (rois[.., 3..5] * Scale - 0.5 - start) / Output;                          // (K, 2)
        var step = (arange(cells, ScalarType.Float32) + 0.5) / Ratio;                        // (S) sample offsets in bins
        var xs = start[.., 0..1] + step * bin[.., 0..1];                                     // (K, S)
        var ys = start[.., 1..2] + step * bin[.., 1..2];                                     // (K, S)
        var y = ys.unsqueeze(2).expand(k, cells, cells);                                     // (K, S, S)
        var x = xs.unsqueeze(1).expand(k, cells, cells);
        var inside = y.ge(-1).logical_and(y.le(h)).logical_and(x.ge(-1)).logical_and(x.le(w)).to_type(ScalarType.Float32);
        y = y.clamp(0, h - 1);
        x = x.clamp(0, w - 1);
        var y0 = y.floor().clamp_max(h - 2);
        var x0 = x.floor().clamp_max(w - 2);
        var ly = y - y0;
        var lx = x - x0;
        Tensor Corner(Tensor yi, Tensor xi, Tensor weight) =>
            flat.index_select(0, (yi * w + xi).to_type(ScalarType.Int64).reshape(-1)).reshape(k, cells, cells, c) * (weight * inside).unsqueeze(3);
        var sampled = Corner(y0, x0, (1 - ly) * (1 - lx)) + Corner(y0, x0 + 1, (1 - ly) * lx)
                      + Corner(y0 + 1, x0, ly * (1 - lx)) + Corner(y0 + 1, x0 + 1, ly * lx);  // (K, S, S, C)
        return sampled.reshape(k, Output, Ratio, Output, Ratio, c).mean([2, 4]).permute(0, 3, 1, 2);  // (K, C, oh, ow)
    }
}
