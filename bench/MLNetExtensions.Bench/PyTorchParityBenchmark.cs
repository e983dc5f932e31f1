using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// The quickstart SSD and DeepLab networks trained one step at a time here and in PyTorch (Debian's python3-torch,
/// through <c>/usr/bin/python3</c>), on the same threads, in turns. <c>PyTorch/parity.py</c> writes the same layers by
/// hand; it loads this network's weights (strict) and must reproduce its eval-mode outputs before anything is timed.
/// A step is forward, the loss sum(output × fixed random weights) (the same on both sides, so the comparison is of the
/// network and the optimizer), backward and the optimizer's step (AdamW, the library's: <c>Optimizers.Create</c>, whose
/// update runs over flat buffers of every parameter; PyTorch's <c>torch.optim.AdamW</c> as it comes). Our step with
/// TorchSharp's AdamW, one parameter at a time as before, is timed in the same turns: the flat update's gain. Also
/// printed: the network's FLOPs per image and the fraction of the CPU's peak a training step reaches (≈ 3× the forward
/// FLOPs), where our step's time goes (forward, backward, optimizer; for SSD also the real loss with matching and hard
/// negative mining), PyTorch's profile by operator family, and whether Debian's torch gets the convolution gradients
/// at the shapes oneDNN got wrong on AVX-512 right. SSD and DeepLab compute in channels-last memory
/// (<see cref="Torch.Modules.ChannelsLastLayout"/>, <c>DeepLabNetwork.ChannelsLast</c>), so the same turns also time our
/// step in NCHW (before) and PyTorch's step on a channels-last batch.
/// </summary>
public sealed class PyTorchParityBenchmark : IBenchmark
{
    private const int Batch = 8, Warmup = 5, Steps = 30, Blocks = 12, BlockSteps = 5, ProfileSteps = 5;
    private const string Python = "/usr/bin/python3";

    public string Name => "pytorch-parity";
    public string Description => "quickstart SSD and DeepLab training step here vs the same network in PyTorch (same threads, in turns), FLOPs and fraction of the CPU's peak";

    public void Run(TextWriter output)
    {
        if (!File.Exists(Python) || RunProcess(Python, ["-c", "import torch"], out _) != 0)
        {
            output.WriteLine($"  {Python} with torch is not installed (Debian: apt install python3-torch); skipped.");
            return;
        }
        var device = TorchRuntime.Resolve(DeviceSelection.Cpu);
        int threads = torch.get_num_threads();
        var peak = CpuPeak.ForThisProcess();
        output.WriteLine($"  {threads} threads here and in PyTorch; oneDNN ISA here: {OneDnnIsa.EnsureUserSettingVisible() ?? "default"} (AVX-512: {OneDnnIsa.RunsAvx512()})");
        output.WriteLine($"  CPU peak: {peak}");
        // The Python twin inherits this process's environment, LD_PRELOAD included: both sides run on the same allocator.
        output.WriteLine($"  allocator on both sides: {(AllocatorInUse() is { } preloaded ? $"{preloaded} (LD_PRELOAD)" : "glibc's malloc (here with the library's 256 MiB top pad)")}");
        Compare(output, ConvolutionTwin(device), threads, peak, gradientCheck: false);
        var deepLab = Compare(output, DeepLabTwin(device), threads, peak, gradientCheck: false);
        var ssd = Compare(output, SsdTwin(device), threads, peak, gradientCheck: true);
        output.WriteLine($"  ours ÷ PyTorch on a channels-last batch (the layout ours computes in): DeepLab {deepLab.ChannelsLast:F2}, SSD {ssd.ChannelsLast:F2}");
        output.WriteLine($"  ours ÷ PyTorch training images/s on the same network: DeepLab {deepLab.Ratio:F2}, SSD {ssd.Ratio:F2}");
    }

    /// <summary>A network, how to call it, its batch and its settings for the Python twin.</summary>
    private sealed record Twin(string Name, nn.Module Network, Func<Tensor, Tensor[]> Forward, Tensor Images,
        Dictionary<string, object> Config, Func<optim.Optimizer> Optimizer, Func<optim.Optimizer> PerParameter,
        Func<optim.Optimizer, double[]>? FullStep = null, Action<bool>? ChannelsLast = null);

    /// <summary>The library's AdamW (flat buffers) and TorchSharp's (per parameter) over <paramref name="network"/>.</summary>
    private static (Func<optim.Optimizer> Library, Func<optim.Optimizer> PerParameter) AdamW(nn.Module network, double rate, double decay)
        => (() => Optimizers.Create(network.parameters(), OptimizerKind.Adam, rate, 0, decay), () => optim.AdamW(network.parameters(), rate, weight_decay: decay));

    private static Twin SsdTwin(Device device)
    {
        var options = OneDnnIsaBenchmark.QuickstartOptions();
        torch.manual_seed(1);
        var model = new SsdDetectorModel(options, OneDnnIsaBenchmark.Classes, device);
        var network = (SsdNetwork)model.Network;
        var images = rand(new long[] { Batch, 3, options.InputHeight, options.InputWidth }, generator: new Generator(1)) * 255f;
        var targets = OneDnnIsaBenchmark.RandomTargets(Batch, OneDnnIsaBenchmark.Classes, seed: 1);
        var config = new Dictionary<string, object>
        {
            ["network"] = "ssd", ["inChannels"] = 3, ["widthMultiplier"] = options.WidthMultiplier, ["topDownFusion"] = options.TopDownFusion,
            ["classCount"] = OneDnnIsaBenchmark.Classes, ["boxesPerLocation"] = options.AspectRatios.Select(a => 2 + 2 * a.Length).ToArray(),
            ["normalization"] = options.Normalization.ToString(), ["optimizer"] = "AdamW", ["learningRate"] = 3e-3, ["weightDecay"] = 0.1,
        };
        var (library, perParameter) = AdamW(network, 3e-3, 0.1);
        return new Twin("SSD (128×128, VggLite ×0.5, top-down fusion)", network,
            x => { var (c, r) = network.call(x); return [c, r]; }, images, config, library, perParameter,
            optimizer => SsdStepParts(model, network, optimizer, images, targets, new SsdLoss(options.NegativePositiveRatio, options.LocalizationLoss, options.LocalizationWeight)),
            channelsLast => network.ChannelsLast = channelsLast);
    }

    /// <summary>The quickstart's whole SSD step as <see cref="SsdDetectorModel.Loss"/> runs it, timed by part: network
    /// forward, matching and box encoding, the loss (cross-entropy, hard negative mining, smooth L1), backward, optimizer.</summary>
    private static double[] SsdStepParts(SsdDetectorModel model, SsdNetwork network, optim.Optimizer optimizer, Tensor images,
        IReadOnlyList<DetectionTarget> targets, SsdLoss loss)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        optimizer.zero_grad();
        var (logits, regression) = network.call(images);
        double forward = clock.Elapsed.TotalSeconds;
        var (labels, encoded) = model.MakeTargets(targets, images.device);
        double matching = clock.Elapsed.TotalSeconds;
        var total = loss.Compute(logits, regression, labels, encoded).ToTrainingLoss().Total;
        double lossDone = clock.Elapsed.TotalSeconds;
        total.backward();
        double backward = clock.Elapsed.TotalSeconds;
        optimizer.step();
        double done = clock.Elapsed.TotalSeconds;
        return [forward, matching - forward, lossDone - matching, backward - lossDone, done - backward];
    }

    /// <summary>One 3×3 convolution, 64 → 64 channels at 32×32: libtorch's convolution kernels side by side, with next to
    /// none of the per-operation cost a network of many small layers pays.</summary>
    private static Twin ConvolutionTwin(Device device)
    {
        const int channels = 64;
        torch.manual_seed(1);
        var conv = nn.Conv2d(channels, channels, 3, padding: 1);
        conv.to(device);
        var images = randn(new long[] { Batch, channels, 32, 32 }, generator: new Generator(3)).requires_grad_(true);
        var config = new Dictionary<string, object>
        {
            ["network"] = "conv", ["channels"] = channels, ["optimizer"] = "AdamW", ["learningRate"] = 3e-3, ["weightDecay"] = 0.1,
        };
        var (library, perParameter) = AdamW(conv, 3e-3, 0.1);
        return new Twin("one 3×3 convolution (64 → 64, 32×32, input gradient too)", conv, x => [conv.call(x)], images, config, library, perParameter);
    }

    /// <summary>The segmentation quickstart's network (samples/Quickstart/SegmentationQuickstart.cs), seed 1, and its options.</summary>
    internal static (DeepLabNetwork Network, DeepLabSegmenterOptions Options) QuickstartDeepLab(Device device)
    {
        var options = new DeepLabSegmenterOptions
        {
            InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, OutputStride = 16, AsppChannels = 64, LowLevelChannels = 32,
        };
        torch.manual_seed(1);
        var network = new DeepLabNetwork(SegmentationBackboneFactory.Create(options, 3), SyntheticShapesDataset.SegmentationClassNames.Count,
            options.Normalization, options.AtrousRates, options.AsppChannels, options.LowLevelChannels, options.Dropout);
        network.to(device);
        return (network, options);
    }

    private static Twin DeepLabTwin(Device device)
    {
        var (network, options) = QuickstartDeepLab(device);
        int classes = network.ClassCount;
        var images = rand(new long[] { Batch, 3, options.InputHeight, options.InputWidth }, generator: new Generator(2)) * 255f;
        var config = new Dictionary<string, object>
        {
            ["network"] = "deeplab", ["inChannels"] = 3, ["outputStride"] = options.OutputStride, ["widthMultiplier"] = options.WidthMultiplier,
            ["asppChannels"] = options.AsppChannels, ["lowLevelChannels"] = options.LowLevelChannels,
            ["atrousRates"] = (options.AtrousRates ?? DeepLabNetwork.DefaultRates(options.OutputStride)).ToArray(), ["dropout"] = options.Dropout,
            ["classCount"] = classes, ["normalization"] = options.Normalization.ToString(), ["optimizer"] = "AdamW", ["learningRate"] = 5e-3, ["weightDecay"] = 1e-4,
        };
        // The segmentation quickstart's optimizer: OptimizerKind.Adam, which is AdamW, at 5e-3 with a decay of 1e-4.
        var (library, perParameter) = AdamW(network, 5e-3, 1e-4);
        return new Twin("DeepLab v3+ (64×64, ResNetLite ×0.5, ASPP 64)", network, x => [network.call(x)], images, config, library, perParameter,
            ChannelsLast: channelsLast => network.ChannelsLast = channelsLast);
    }

    /// <summary>Prints the comparison for one network; returns ours ÷ PyTorch's images/s, and ours ÷ PyTorch's on a
    /// channels-last batch (NaN for a network without the layout switch).</summary>
    private static (double Ratio, double ChannelsLast) Compare(TextWriter output, Twin twin, int threads, CpuPeak peak, bool gradientCheck)
    {
        output.WriteLine($"  {twin.Name}, batch {Batch}:");
        string folder = Directory.CreateTempSubdirectory("pytorch-parity-").FullName;
        try
        {
            double flops = NetworkFlops.ForwardPerImage(twin.Network, x => twin.Forward(x), twin.Images);
            WriteFolder(folder, twin);
            var ours = new List<double>();
            var python = new List<double>();
            var (forward, backward, update) = (new List<double>(), new List<double>(), new List<double>());
            twin.Network.train();
            var optimizer = twin.Optimizer();
            var perParameter = twin.PerParameter();
            var (perForward, perBackward, perUpdate, perParameterBlocks) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            var (nchwBlocks, pythonChannelsLast) = (new List<double>(), new List<double>());
            var generator = new Generator(11);
            var weights = twin.Forward(twin.Images).Select(o => randn(o.shape, generator: generator)).ToArray();
            OurSteps(twin, optimizer, weights, Warmup, [], [], [], []);
            OurSteps(twin, perParameter, weights, Warmup, [], [], [], []);
            var setLayout = twin.ChannelsLast;
            if (setLayout is not null)
            {
                setLayout(false);
                OurSteps(twin, optimizer, weights, Warmup, [], [], [], []);
                setLayout(true);
            }

            var args = new List<string> { PythonScript(), folder, "--threads", threads.ToString(CultureInfo.InvariantCulture),
                "--warmup", Warmup.ToString(CultureInfo.InvariantCulture), "--profile-steps", ProfileSteps.ToString(CultureInfo.InvariantCulture) };
            if (gradientCheck) args.Add("--gradient-check");
            using var twinProcess = new PythonTwin(args);
            foreach (var line in twinProcess.Setup) output.WriteLine($"    PyTorch: {Describe(line, flops)}");
            // Blocks of steps in turns, on the same cores: a slow spell of the machine falls on both sides alike.
            for (int block = 0; block < Blocks; block++)
            {
                ours.Add(OurSteps(twin, optimizer, weights, BlockSteps, forward, backward, update, new List<double>()));
                python.Add(twinProcess.Steps(BlockSteps));
                perParameterBlocks.Add(OurSteps(twin, perParameter, weights, BlockSteps, perForward, perBackward, perUpdate, new List<double>()));
                if (setLayout is not null)
                {
                    // Before: the same network and step in NCHW memory; and PyTorch's step on a channels-last batch.
                    setLayout(false);
                    nchwBlocks.Add(OurSteps(twin, optimizer, weights, BlockSteps, [], [], [], new List<double>()));
                    setLayout(true);
                    pythonChannelsLast.Add(twinProcess.Steps(BlockSteps, channelsLast: true));
                }
            }
            foreach (var line in twinProcess.Finish()) output.WriteLine($"    PyTorch: {line}");
            output.WriteLine($"    {Blocks} blocks of {BlockSteps} steps in turns; block medians: ours {Batch / ours.Max():F0}–{Batch / ours.Min():F0} img/s, PyTorch {Batch / python.Max():F0}–{Batch / python.Min():F0} img/s");
            double o = Median(ours), p = Median(python);
            double step = Median(forward) + Median(backward) + Median(update);
            output.WriteLine($"    forward {flops / 1e9:F3} GFLOP per image here (convolutions and linear layers, from their shapes); a training step ≈ 3× that");
            output.WriteLine($"    ours: {Batch / o:F1} img/s, {3 * flops * Batch / o / 1e9:F1} GFLOP/s = {3 * flops * Batch / o / 1e9 / peak.Gflops:P1} of peak; " +
                             $"PyTorch: {Batch / p:F1} img/s, {3 * flops * Batch / p / 1e9:F1} GFLOP/s = {3 * flops * Batch / p / 1e9 / peak.Gflops:P1} of peak");
            output.WriteLine($"    our step (each part's median): forward {Median(forward) / step:P0}, backward {Median(backward) / step:P0}, optimizer {Median(update) / step:P0} ({Median(update) * 1000:F2} ms)");
            double perStep = Median(perForward) + Median(perBackward) + Median(perUpdate);
            output.WriteLine($"    our step with TorchSharp's AdamW, one parameter at a time over {twin.Network.parameters().Count()} parameter tensors (before): {Batch / Median(perParameterBlocks):F1} img/s; forward {Median(perForward) / perStep:P0}, " +
                             $"backward {Median(perBackward) / perStep:P0}, optimizer {Median(perUpdate) / perStep:P0} ({Median(perUpdate) * 1000:F2} ms); " +
                             $"flat ÷ per parameter (images/s, median of the paired blocks' ratios): {Median(perParameterBlocks.Zip(ours, (per, flat) => per / flat).ToList()):F2}");
            double channelsLastRatio = double.NaN;
            if (twin.ChannelsLast is not null)
            {
                channelsLastRatio = Median(pythonChannelsLast.Zip(ours, (py, us) => py / us).ToList());
                output.WriteLine($"    our step in NCHW memory (before; the network now computes channels-last): {Batch / Median(nchwBlocks):F1} img/s; " +
                                 $"channels-last ÷ NCHW (images/s, median of the paired blocks' ratios): {Median(nchwBlocks.Zip(ours, (nchw, last) => nchw / last).ToList()):F2}");
                output.WriteLine($"    PyTorch on a channels-last batch: {Batch / Median(pythonChannelsLast):F1} img/s, ÷ its NCHW step {Median(python.Zip(pythonChannelsLast, (nchw, last) => nchw / last).ToList()):F2}; " +
                                 $"ours ÷ PyTorch channels-last (images/s, median of the paired blocks' ratios): {channelsLastRatio:F2}");
            }
            if (twin.FullStep is { } full)
            {
                var parts = Enumerable.Range(0, Warmup + Steps).Select(_ => full(optimizer)).Skip(Warmup).ToList();
                double whole = Median(parts.Select(t => t.Sum()).ToList());
                string[] names = ["network forward", "matching and box encoding", "loss (cross-entropy, mining, smooth L1)", "backward", "optimizer"];
                output.WriteLine($"    our full SSD training step (SsdDetectorModel.Loss): {Batch / whole:F1} img/s; each part's median: " +
                                 string.Join(", ", names.Select((n, k) => $"{n} {Median(parts.Select(t => t[k]).ToList()) * 1000:F1} ms")));
            }
            // Each block's ratio against the PyTorch block right after it, then their median.
            double ratio = Median(python.Zip(ours, (py, us) => py / us).ToList());
            output.WriteLine($"    ours ÷ PyTorch (images/s), median of the paired blocks' ratios: {ratio:F2}");
            return (ratio, channelsLastRatio);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Describe(string line, double ourFlops)
        => line.StartsWith("forward_flops_per_image", StringComparison.Ordinal)
            ? $"forward {double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) / 1e9:F3} GFLOP per image counted by hooks on its layers (here: {ourFlops / 1e9:F3})"
            : line;

    /// <summary>config.json, the weights, and the batch with one loss weight and the eval-mode output per output.</summary>
    private static void WriteFolder(string folder, Twin twin)
    {
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(twin.Config));
        SafetensorsWeights.Save(twin.Network, Path.Combine(folder, "weights.safetensors"));
        using var scope = NewDisposeScope();
        twin.Network.eval();
        Tensor[] outputs;
        using (no_grad()) outputs = twin.Forward(twin.Images);
        var generator = new Generator(11);
        var entries = new List<KeyValuePair<string, Tensor>> { new("images", twin.Images.detach()) };
        for (int i = 0; i < outputs.Length; i++) entries.Add(new($"weight{i}", randn(outputs[i].shape, generator: generator)));
        for (int i = 0; i < outputs.Length; i++) entries.Add(new($"reference{i}", outputs[i]));
        SafetensorsFile.Save(entries, Path.Combine(folder, "batch.safetensors"));
    }

    /// <summary>Runs <paramref name="count"/> of our steps; returns their median seconds and adds each step's forward,
    /// backward and optimizer seconds.</summary>
    private static double OurSteps(Twin twin, optim.Optimizer optimizer, Tensor[] weights, int count, List<double> forward, List<double> backward, List<double> update, List<double> times)
    {
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            optimizer.zero_grad();
            var outputs = twin.Forward(twin.Images);
            var loss = outputs.Zip(weights, (o, w) => (o * w).sum()).Aggregate((a, b) => a + b);
            double f = clock.Elapsed.TotalSeconds;
            loss.backward();
            double b = clock.Elapsed.TotalSeconds;
            optimizer.step();
            double s = clock.Elapsed.TotalSeconds;
            times.Add(s);
            forward.Add(f);
            backward.Add(b - f);
            update.Add(s - b);
        }
        return times.Count == 0 ? double.NaN : Median(times);
    }

    /// <summary>PyTorch/parity.py as a child that answers "steps K" with the median seconds of K steps.</summary>
    private sealed class PythonTwin : IDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _errors;

        public PythonTwin(IEnumerable<string> args)
        {
            var start = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            _process = Process.Start(start)!;
            _errors = _process.StandardError.ReadToEndAsync();
            var setup = new List<string>();
            for (string? line; (line = _process.StandardOutput.ReadLine()) != "ready";)
            {
                if (line is null) throw Failed(string.Join("\n", setup));
                setup.Add(line);
            }
            Setup = setup;
        }

        public IReadOnlyList<string> Setup { get; }

        public double Steps(int count, bool channelsLast = false)
        {
            _process.StandardInput.WriteLine($"steps {count}{(channelsLast ? " channels_last" : "")}");
            _process.StandardInput.Flush();
            var line = _process.StandardOutput.ReadLine();
            if (line is null || !line.StartsWith("block ", StringComparison.Ordinal)) throw Failed(line ?? "");
            return double.Parse(line["block ".Length..], CultureInfo.InvariantCulture);
        }

        public IReadOnlyList<string> Finish()
        {
            _process.StandardInput.WriteLine("quit");
            _process.StandardInput.Close();
            var rest = _process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            _process.WaitForExit();
            if (_process.ExitCode != 0) throw Failed(string.Join("\n", rest));
            return rest;
        }

        private InvalidOperationException Failed(string output)
        {
            if (!_process.WaitForExit(10_000)) _process.Kill();
            _process.WaitForExit();
            return new InvalidOperationException($"parity.py failed ({(_process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "running")}):\n{output}\n{_errors.Result}");
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
        }
    }

    private static double Time(Action step)
    {
        var times = new List<double>();
        for (int i = 0; i < Warmup + Steps; i++)
        {
            var clock = Stopwatch.StartNew();
            step();
            if (i >= Warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    /// <summary>The tcmalloc this process runs on, or null for glibc's malloc.</summary>
    private static string? AllocatorInUse()
        => OperatingSystem.IsLinux()
            ? File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
                .FirstOrDefault(path => path != null && Path.GetFileName(path).StartsWith("libtcmalloc", StringComparison.Ordinal))
            : null;

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static string PythonScript() => Path.Combine(AppContext.BaseDirectory, "PyTorch", "parity.py");

    private static int RunProcess(string file, IEnumerable<string> args, out string text)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        text += error.Result.Length > 0 && process.ExitCode != 0 ? "\n" + error.Result : "";
        return process.ExitCode;
    }
}
