using System.Diagnostics;
using System.Globalization;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// The quickstart's SSD training step (128×128, VggLite ×0.5 with top-down fusion, batch 8, AdamW, CPU) with oneDNN
/// capped at AVX (the cap the library set before channel padding) against oneDNN left at the CPU's best (the library's
/// default now: AVX-512 here, with <see cref="MLNetExtensions.Torch.Modules.PaddedConvolution"/>). oneDNN reads its ISA once per process, so each measurement is a child process of this bench
/// (<c>onednn-isa-child ISA</c>), in turns, three each; the figures are medians.
/// </summary>
public sealed class OneDnnIsaBenchmark : IBenchmark
{
    private const int Size = 128, Batch = 8, Warmup = 5, Steps = 30, Rounds = 3;
    internal const string ChildArgument = "onednn-isa-child";
    private const string Default = "default";

    public string Name => "onednn-isa";
    public string Description => "quickstart SSD training step with oneDNN capped at AVX (before) vs the default ISA with padded convolutions (now), child processes in turns";

    public void Run(TextWriter output)
    {
        if (!OperatingSystem.IsLinux())
        {
            output.WriteLine("  Linux only; skipped.");
            return;
        }
        string[] isas = ["AVX", Default];
        var perIsa = isas.ToDictionary(i => i, _ => new List<double>());
        for (int round = 0; round < Rounds; round++)
            foreach (var isa in isas)
            {
                double seconds = Child(isa);
                perIsa[isa].Add(seconds);
                output.WriteLine($"  round {round + 1}, {isa,-12} {Batch / seconds,7:F1} img/s ({seconds * 1000:F0} ms a step)");
            }
        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        double before = Median(perIsa["AVX"]), after = Median(perIsa[Default]);
        output.WriteLine($"  medians: AVX {Batch / before:F1} img/s, default ({(OneDnnIsa.RunsAvx512() ? "AVX-512" : "no AVX-512 on this CPU")}) {Batch / after:F1} img/s");
        output.WriteLine($"  old cap: {CpuPeak.ForThisProcess("AVX").DescribeTraining(ForwardFlops(), Batch / before)}");
        output.WriteLine($"  default: {CpuPeak.ForThisProcess().DescribeTraining(ForwardFlops(), Batch / after)}");
        output.WriteLine($"  quickstart SSD step at 128 px, default ISA over the old AVX cap (images/s ratio): {before / after:F2}");
    }

    private static double Child(string isa)
        => Child(isa, environment => { if (isa == Default) environment.Remove(OneDnnIsa.Variable); else environment[OneDnnIsa.Variable] = isa; });

    /// <summary>The median seconds of the quickstart SSD step in a child process of this bench whose environment
    /// <paramref name="setEnvironment"/> changes (what a process reads once at its start: oneDNN's ISA, the preloaded
    /// allocator).</summary>
    internal static double Child(string label, Action<IDictionary<string, string?>> setEnvironment)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        // `dotnet run` starts the apphost; `dotnet X.dll` starts dotnet, which needs the assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(OneDnnIsaBenchmark).Assembly.Location);
        start.ArgumentList.Add(ChildArgument);
        start.ArgumentList.Add(label);
        setEnvironment(start.Environment);
        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"The {label} child failed ({process.ExitCode}): {text}");
        return double.Parse(text.Trim().Split('\n')[^1], CultureInfo.InvariantCulture);
    }

    /// <summary>In the child: the median seconds of a step, as the last line.</summary>
    internal static void RunChild(TextWriter output)
    {
        var options = QuickstartOptions();
        var device = TorchRuntime.Resolve(DeviceSelection.Cpu);
        torch.manual_seed(1);
        var model = new SsdDetectorModel(options, Classes, device);
        var optimizer = optim.AdamW(model.Network.parameters(), 3e-3, weight_decay: 0.1);
        model.Network.train();
        var images = rand(new long[] { Batch, 3, Size, Size }, generator: new Generator(1)) * 255f;
        var targets = RandomTargets(Batch, Classes, seed: 1);
        var times = new List<double>();
        for (int i = 0; i < Warmup + Steps; i++)
        {
            var clock = Stopwatch.StartNew();
            SsdTrainingBenchmark.Step(model, optimizer, images, targets);
            if (i >= Warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        output.WriteLine(times.Order().ElementAt(times.Count / 2).ToString("R", CultureInfo.InvariantCulture));
    }

    /// <summary>Forward FLOPs per image of the quickstart SSD (the same at every ISA).</summary>
    private static double ForwardFlops()
    {
        var device = TorchRuntime.Resolve(DeviceSelection.Cpu);
        using var network = (SsdNetwork)new SsdDetectorModel(QuickstartOptions(), Classes, device).Network;
        using var images = zeros(Batch, 3, Size, Size);
        return NetworkFlops.ForwardPerImage(network, x => network.call(x), images);
    }

    /// <summary>Classes of the built-in dataset.</summary>
    internal const int Classes = 5;

    /// <summary>The quickstart SSD's network settings: 128×128, VggLite ×0.5 with top-down fusion, batch 8.</summary>
    internal static SsdDetectorOptions QuickstartOptions()
        => new() { InputWidth = Size, InputHeight = Size, BatchSize = Batch, WidthMultiplier = 0.5f, TopDownFusion = true, IgnoreIouThreshold = 0.3f };

    /// <summary>Targets of the built-in dataset's kind, 1–3 boxes per image (a step's cost does not depend on the pixels,
    /// so the images can be noise).</summary>
    internal static List<DetectionTarget> RandomTargets(int batch, int classes, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ =>
        {
            int n = rng.Next(1, 4);
            var boxes = new float[4 * n];
            for (int i = 0; i < n; i++)
            {
                float w = 0.08f + 0.3f * rng.NextSingle(), h = 0.08f + 0.3f * rng.NextSingle(), x = (1 - w) * rng.NextSingle(), y = (1 - h) * rng.NextSingle();
                (boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]) = (x, y, x + w, y + h);
            }
            return new DetectionTarget(boxes, Enumerable.Range(0, n).Select(_ => (long)rng.Next(1, classes + 1)).ToArray());
        }).ToList();
    }
}
