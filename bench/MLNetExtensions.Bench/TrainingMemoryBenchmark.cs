using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;

namespace MLNetExtensions.Bench;

/// <summary>
/// Memory of a streamed detector training run against the dataset's size (issue #16 item 5): a tiny SSD (64-px shapes
/// at a 64×64 input, width 0.25, batch 4, one libtorch thread, the default data workers (the cores that thread leaves
/// free; so <c>Fit</c>'s row check runs on every core), the default augmentation,
/// <c>PixelCacheBytes = 0</c> so every image is streamed from its file, no checkpoints) trains <see cref="Steps"/> steps on
/// the first 1,000 and on all 20,000 images of one generated set, each run in a child process of its own (this binary
/// started again), which prints its RSS every 1,000 steps, the seconds from the <c>Fit</c> call to the first step's
/// report and, at its end, its peak RSS (VmHWM). Prints per run the peak, the RSS slope after warm-up (least squares
/// over the samples from step 2,000 on) and Fit → first step; then, in this process, the seconds from a tiny DeepLab's
/// <c>Fit</c> on the same 20,000 images and their masks to its first step; the last line's last number is the peak-RSS
/// ratio 20k/1k.
/// </summary>
public sealed class TrainingMemoryBenchmark : IBenchmark
{
    internal const string ChildArgument = "training-memory-child";
    internal const int Steps = 10_000;
    private const int Every = 1_000, Large = 20_000, Small = 1_000, Size = 64;

    public string Name => "training-memory";
    public string Description => $"peak RSS of a streamed tiny-SSD run on {Small:N0} vs {Large:N0} images ({Steps:N0} steps each, a child process per run), RSS every {Every:N0} steps, Fit → first step";

    public void Run(TextWriter output)
    {
        var clock = Stopwatch.StartNew();
        string voc = SyntheticShapesDataset.Ensure(Path.Combine(Path.GetTempPath(), "mlnetext-bench-shapes-20k"),
            new SyntheticShapesOptions { ImageSize = Size, TrainImages = Large, ValidationImages = 0, TestImages = 0, MaxObjectsPerImage = 2, MinObjectSize = 14, Seed = 5 });
        // The small run's image set: the first 1,000 of the same images, so both runs read the same kind of files.
        var ids = File.ReadAllLines(Path.Combine(voc, "ImageSets", "Main", "train.txt")).Where(l => l.Length > 0).ToArray();
        if (ids.Length != Large) throw new InvalidOperationException($"'{voc}' has {ids.Length} training images, not {Large}; delete the folder and run again.");
        File.WriteAllLines(Path.Combine(voc, "ImageSets", "Main", SetName(Small) + ".txt"), ids.Take(Small));
        output.WriteLine($"{Large:N0} generated {Size}-px images in '{voc}' ({clock.Elapsed.TotalSeconds:F0} s to make or find)");
        output.WriteLine($"each run: tiny SSD, {Size}×{Size} input, width 0.25, batch 4, {Steps:N0} steps, 1 libtorch thread, default DataWorkers ({Math.Clamp(Environment.ProcessorCount - 1, 0, 8)}), PixelCacheBytes = 0, no checkpoints");

        var small = Child(voc, Small, output);
        var large = Child(voc, Large, output);
        foreach (var (rows, r) in new[] { (Small, small), (Large, large) })
            output.WriteLine($"{rows,6:N0} images: peak RSS {r.PeakMb:F1} MB, RSS {r.Samples[1].Mb:F1} MB at step {Every:N0} → {r.Samples[^1].Mb:F1} MB at step {Steps:N0}, " +
                             $"slope after warm-up {Slope(r.Samples) * 1000:F2} MB per 1k steps; load {r.LoadSeconds:F1} s, Fit → first step {r.FirstStepSeconds:F1} s, training {r.TrainSeconds:F0} s");
        var (deepLabFirst, deepLabPeak) = DeepLabFirstStep(voc);
        output.WriteLine($"DeepLab (64×64, width 0.5, batch 4, PixelCacheBytes = 0) on the same {Large:N0} images and their masks, in this process: Fit → first step {deepLabFirst:F1} s (peak RSS {deepLabPeak:F1} MB)");
        output.WriteLine($"Fit → first step on {Large:N0} images: {large.FirstStepSeconds:F1} s");
        output.WriteLine($"peak RSS {large.PeakMb:F1} MB ({Large:N0} images) vs {small.PeakMb:F1} MB ({Small:N0}): {large.PeakMb - small.PeakMb:+0.0;-0.0} MB; peak-RSS ratio {Large / 1000}k/{Small / 1000}k: {large.PeakMb / small.PeakMb:F3}");
    }

    private static string SetName(int rows) => rows == Large ? "train" : $"train{rows / 1000}k";

    private sealed record Result(List<(double X, double Mb)> Samples, double PeakMb, double LoadSeconds, double FirstStepSeconds, double TrainSeconds);

    /// <summary>Runs <paramref name="rows"/> images in a child process, relaying its lines.</summary>
    private static Result Child(string voc, int rows, TextWriter output)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        // `dotnet run` starts the apphost; `dotnet X.dll` starts dotnet, which needs the assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(TrainingMemoryBenchmark).Assembly.Location);
        start.ArgumentList.Add(ChildArgument);
        start.ArgumentList.Add(voc);
        start.ArgumentList.Add(rows.ToString(CultureInfo.InvariantCulture));
        output.WriteLine($"-- {rows:N0} images (child process)");
        output.WriteLine("   step     RSS MB   s");
        using var process = Process.Start(start)!;
        var samples = new List<(double X, double Mb)>();
        double peak = double.NaN, load = double.NaN, first = double.NaN, train = double.NaN;
        string? line;
        while ((line = process.StandardOutput.ReadLine()) != null)
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (f)
            {
                case ["rss", var step, var mb, var s]:
                    samples.Add((double.Parse(step, CultureInfo.InvariantCulture), double.Parse(mb, CultureInfo.InvariantCulture)));
                    output.WriteLine($"{step,7} {mb,10} {s,5}");
                    break;
                case ["result", var p, var l, var fs, var t]:
                    (peak, load, first, train) = (P(p), P(l), P(fs), P(t));
                    break;
                default: output.WriteLine("   " + line); break;
            }
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || double.IsNaN(peak)) throw new InvalidOperationException($"The {rows}-image child failed (exit code {process.ExitCode}).");
        return new Result(samples, peak, load, first, train);

        static double P(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    }

    /// <summary>In the child: trains <paramref name="steps"/> steps on the first <paramref name="rows"/> images of <paramref name="voc"/>, printing
    /// <c>rss STEP MB SECONDS</c> every 1,000 steps and at the end <c>result PEAK_MB LOAD_S FIT_TO_FIRST_STEP_S TRAIN_S</c>.</summary>
    internal static void RunChild(string voc, int rows, TextWriter output, int steps)
    {
        TorchRuntime.EnsureLoaded();
        var ml = new MLContext(1);
        var clock = Stopwatch.StartNew();
        var data = ml.Data.LoadFromPascalVoc(voc, SetName(rows), new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        double load = clock.Elapsed.TotalSeconds;
        double first = double.NaN, fitStart = 0;
        void Sample(int step) => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rss {step} {Process.GetCurrentProcess().WorkingSet64 / 1048576.0:F1} {clock.Elapsed.TotalSeconds - fitStart:F0}"));
        var options = new SsdDetectorOptions
        {
            InputWidth = Size, InputHeight = Size, WidthMultiplier = 0.25f, GridSize = 4, MinScale = 0.2f,
            BatchSize = 4, MaxSteps = steps, WarmupSteps = Math.Min(50, steps), LearningRate = 3e-3, Seed = 7, CpuThreads = 1,
            PixelCacheBytes = 0, Device = DeviceSelection.Cpu, EnableCheckpoints = false, ScoreThreshold = 0.05f,
            Progress = new StepReport(p =>
            {
                if (p.Step == 1) first = clock.Elapsed.TotalSeconds - fitStart;
                if (p.Step % Every == 0) Sample(p.Step);
            }),
        };
        fitStart = clock.Elapsed.TotalSeconds;
        Sample(0);
        using (ml.Transforms.TrainSsdDetector(options).Fit(data)) { }
        double train = clock.Elapsed.TotalSeconds - fitStart;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result {PeakRssMb():F1} {load:F2} {first:F2} {train:F1}"));
    }

    /// <summary>Seconds from a DeepLab <c>Fit</c> on all <see cref="Large"/> images and masks of <paramref name="voc"/> to its
    /// first step's report (its row check decodes every mask and checks every image's structure), and the peak RSS then.</summary>
    private static (double Seconds, double PeakMb) DeepLabFirstStep(string voc)
    {
        TorchRuntime.EnsureLoaded();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromPascalVocSegmentation(voc, "train");
        double first = double.NaN;
        var clock = new Stopwatch();
        var options = new DeepLabSegmenterOptions
        {
            ClassNames = SyntheticShapesDataset.SegmentationClassNames.ToArray(), InputWidth = Size, InputHeight = Size, WidthMultiplier = 0.5f,
            AsppChannels = 64, LowLevelChannels = 32, BatchSize = 4, MaxSteps = 1, Seed = 7, PixelCacheBytes = 0,
            Device = DeviceSelection.Cpu, EnableCheckpoints = false,
            Progress = new StepReport(p => { if (p.Step == 1 && double.IsNaN(first)) first = clock.Elapsed.TotalSeconds; }),
        };
        clock.Start();
        ml.Transforms.TrainDeepLabSegmenter(options).Fit(data);
        return (first, PeakRssMb());
    }

    /// <summary>The process's peak resident set (VmHWM in /proc/self/status), MB.</summary>
    private static double PeakRssMb()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>Least-squares slope of MB over steps after warm-up: the samples from step 2,000 on.</summary>
    private static double Slope(List<(double X, double Mb)> samples)
    {
        var s = samples.Where(p => p.X >= 2 * Every).ToList();
        double mx = s.Average(p => p.X), my = s.Average(p => p.Mb);
        return s.Sum(p => (p.X - mx) * (p.Mb - my)) / s.Sum(p => (p.X - mx) * (p.X - mx));
    }
}
