using System.Diagnostics;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// DeepLab v3+ (ResNet-lite backbone, output stride 16, ASPP 256) training steps on the CPU: images/s of a full step
/// (forward, CE loss, backward, SGD update) at 256×256 and 512×512, batch 4, and the peak working set during those
/// steps (the kernel's peak counter reset before them); baseline: the eval forward (no gradients) of the same network
/// and batch. Then the torchvision backbones (MobileNetV2 and ResNet-18, width 1, output stride 16) at 256×256 batch 4,
/// two steps each, against the ResNet-lite training step measured above.
/// </summary>
public sealed class DeepLabBenchmark : IBenchmark
{
    public string Name => "deeplab";
    public string Description => "DeepLab v3+ CPU training step vs eval forward (batch 4, 256 and 512 px), peak memory";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(0);
        output.WriteLine($"libtorch threads: {get_num_threads()}");
        double? train256 = null;
        foreach (int size in new[] { 256, 512 })
        {
            var net = new DeepLabNetwork(new ResNetLiteBackbone(3), 6, PixelNormalization.MinusOneToOne);
            var loss = new SegmentationLoss(SegmentationLossKind.CrossEntropy);
            var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
            var images = rand(4, 3, size, size) * 255;
            var targets = randint(0, 6, [4, size, size], dtype: ScalarType.Int64);
            int steps = size == 256 ? 4 : 2;

            net.eval();
            double forward = Time(steps, () =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                net.call(images);
            });

            net.train();
            var process = Process.GetCurrentProcess();
            bool peakReset = ResetPeakWorkingSet();
            process.Refresh();
            long before = process.WorkingSet64;
            double train = Time(steps, () =>
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                loss.Compute(net.call(images), targets).Total.backward();
                optimizer.step();
            });
            process.Refresh();
            long peak = process.PeakWorkingSet64, peakDelta = peak - before;
            double trainIps = 4 / train, forwardIps = 4 / forward;
            output.WriteLine($"{size}×{size}: training {trainIps:F2} img/s ({train:F2} s/step), eval forward {forwardIps:F2} img/s; " +
                             $"training/forward time ratio {train / forward:F2}; peak working set {(peakReset ? "during the training steps" : "of the process")} " +
                             $"{peak / 1048576.0:F0} MiB, +{peakDelta / 1048576.0:F0} MiB over the working set before them");
            output.WriteLine($"  {CpuPeak.ForThisProcess().DescribeTraining(NetworkFlops.ForwardPerImage(net, x => net.call(x), images), trainIps)}");
            if (train256 is double t) output.WriteLine($"  512 vs 256 step time ratio: {train / t:F2} (pixels ×4)");
            else train256 = train;
            net.Dispose();
        }

        foreach (var (name, backbone) in new (string, ISegmentationBackbone)[]
                 { ("MobileNetV2", new MobileNetV2SegmentationBackbone(3)), ("ResNet-18", new ResNetSegmentationBackbone(ResNetBackboneOptions.ResNet18)) })
        {
            using var net = new DeepLabNetwork(backbone, 6, PixelNormalization.MinusOneToOne);
            var loss = new SegmentationLoss(SegmentationLossKind.CrossEntropy);
            var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
            var images = rand(4, 3, 256, 256) * 255;
            var targets = randint(0, 6, [4, 256, 256], dtype: ScalarType.Int64);
            net.train();
            double train = Time(2, () =>
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                loss.Compute(net.call(images), targets).Total.backward();
                optimizer.step();
            });
            output.WriteLine($"256×256 {name} backbone: training {4 / train:F2} img/s ({train:F2} s/step); " +
                             $"step time vs ResNet-lite: {train / train256!.Value:F2}");
        }
    }

    /// <summary>
    /// Resets the kernel's peak resident-set counter (VmHWM, what <see cref="Process.PeakWorkingSet64"/> reads on Linux)
    /// to the current size, so the next reading is the peak of the steps in between rather than of the whole process.
    /// False where that is not possible (not Linux, or /proc not writable).
    /// </summary>
    private static bool ResetPeakWorkingSet()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Mean seconds of <paramref name="action"/> over <paramref name="runs"/> runs after one warm-up run.</summary>
    private static double Time(int runs, Action action)
    {
        action();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++) action();
        return clock.Elapsed.TotalSeconds / runs;
    }
}
