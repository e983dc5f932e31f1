using System.Diagnostics;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using TorchSharp;

namespace MLNetExtensions.Bench;

/// <summary>
/// The quickstart's SSD training step (128×128, VggLite ×0.5, batch 8, CPU) with glibc's malloc handing freed memory
/// straight back to the kernel (top pad 0, the baseline) against the 256 MiB pad <see cref="TorchRuntime"/> sets:
/// images/s and page faults per step.
/// </summary>
public sealed class MallocPaddingBenchmark : IBenchmark
{
    private const int Size = 128, Batch = 8, Warmup = 5, Steps = 40;

    public string Name => "malloc-padding";
    public string Description => "SSD training step (quickstart configuration) with malloc's top pad 0 vs the 256 MiB TorchRuntime sets";

    public void Run(TextWriter output)
    {
        if (!OperatingSystem.IsLinux())
        {
            output.WriteLine("  glibc only; skipped.");
            return;
        }
        var options = new SsdDetectorOptions { InputWidth = Size, InputHeight = Size, BatchSize = Batch, WidthMultiplier = 0.5f };
        var data = SsdTrainingBenchmark.BuiltInTrainingSet(options);
        var device = TorchRuntime.Resolve(DeviceSelection.Cpu);
        torch.manual_seed(1);
        var model = new SsdDetectorModel(options, data.ClassNames.Length, device);
        var optimizer = torch.optim.Adam(model.Network.parameters(), 1e-3);
        model.Network.train();
        var batch = data.Batch(Enumerable.Range(0, Batch).ToArray(), options.Augmentation, new Random(1), device);

        var secondsPerStep = new List<double>();   // per pad, in the order tried
        foreach (int pad in new[] { 0, GlibcMallocPadding.TopPadBytes })
        {
            if (!GlibcMallocPadding.SetTopPad(pad))
            {
                output.WriteLine("  mallopt(M_TOP_PAD) was refused (not glibc?); skipped.");
                return;
            }
            var times = new List<double>();
            long faults = 0;
            for (int i = 0; i < Warmup + Steps; i++)
            {
                long before = MinorFaults();
                var clock = Stopwatch.StartNew();
                SsdTrainingBenchmark.Step(model, optimizer, batch.Images, batch.Targets);
                if (i < Warmup) continue;
                times.Add(clock.Elapsed.TotalSeconds);
                faults += MinorFaults() - before;
            }
            times.Sort();
            double median = times[times.Count / 2];
            secondsPerStep.Add(median);
            output.WriteLine($"  top pad {pad >> 20,3} MiB: {Batch / median:F1} img/s ({median * 1000:F0} ms a step), {faults / (double)Steps:F0} page faults a step");
        }
        GlibcMallocPadding.SetTopPad(GlibcMallocPadding.TopPadBytes);
        output.WriteLine($"  ratio (256 MiB pad / no pad): {secondsPerStep[0] / secondsPerStep[1]:F2}x images/s");
    }

    /// <summary>Minor page faults of this process so far (field 10 of /proc/self/stat).</summary>
    private static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7]);
    }
}
