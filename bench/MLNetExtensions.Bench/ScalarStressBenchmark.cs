using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Bench;

/// <summary>
/// How exposed training is to dotnet/TorchSharp#1434 (issue #16 item 4): a temporary Scalar freed by the finalizer while
/// a native op reads it ("Expected false to be true ... toFloat"). Each family (tiny SSD, grid and DeepLab on 64-px
/// shapes, default augmentation, no checkpoints) trains up to <see cref="Steps"/> steps twice: as is (the baseline,
/// where the error should never appear), and with another thread forcing full collections and running the finalizers
/// in a loop, which makes any Scalar left to the finalizer during a native call likely to be freed under it. Prints for
/// each run the steps it reached, the error's count (the loop recovers from the first; a second ends <c>Fit</c>) and
/// the seconds; the last line's last number is the SSD's steps before its first error under stress
/// (<see cref="Steps"/> when none). Every library Scalar on the SSD's path is held, but TorchSharp's
/// <c>Tensor + Tensor</c> and <c>-</c> make an inline alpha Scalar, so the figure stays finite until TorchSharp holds its own.
/// </summary>
public sealed class ScalarStressBenchmark : IBenchmark
{
    /// <summary>Steps per run: 300, or <c>MLNETEXT_SCALAR_STRESS_STEPS</c>.</summary>
    private static readonly int Steps = int.TryParse(Environment.GetEnvironmentVariable("MLNETEXT_SCALAR_STRESS_STEPS"), out var s) ? s : 300;

    public string Name => "scalar-stress";
    public string Description => $"steps before the finalized-Scalar error (dotnet/TorchSharp#1434), {Steps} steps per family, with and without forced collections";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        string voc = SyntheticShapesDataset.Ensure(Path.Combine(Path.GetTempPath(), "mlnetext-bench-tiny-shapes"),
            new SyntheticShapesOptions { ImageSize = 64, TrainImages = 48, ValidationImages = 16, TestImages = 0, MaxObjectsPerImage = 2, MinObjectSize = 14, Seed = 3 });
        var families = new (string Name, Action<MLContext, IProgress<TrainingProgress>> Train)[]
        {
            ("SSD", (ml, p) => ml.Transforms.TrainSsdDetector(Detector(DetectorArchitecture.Ssd, p)).Fit(Detection(ml, voc))),
            ("grid", (ml, p) => ml.Transforms.TrainSsdDetector(Detector(DetectorArchitecture.Grid, p)).Fit(Detection(ml, voc))),
            ("FasterRCNN", (ml, p) => ml.Transforms.TrainFasterRcnnDetector(FasterRcnn(p, fpn: false)).Fit(Detection(ml, voc))),
            ("FasterRCNN-FPN", (ml, p) => ml.Transforms.TrainFasterRcnnDetector(FasterRcnn(p, fpn: true)).Fit(Detection(ml, voc))),
            ("R-CNN", (ml, p) => ml.Transforms.TrainRcnnDetector(new RcnnDetectorOptions
            {
                InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, WarpSize = 32, ContextPadding = 2,
                Proposals = new SelectiveSearchOptions { MinRegionSize = 16, MinBoxSize = 4 }, ProposalsPerImage = 100,
                BatchSize = 4, MaxSteps = Steps, WarmupSteps = 10, LearningRate = 3e-3, Seed = 7, Device = DeviceSelection.Cpu,
                SvmNegativesPerRound = 500, HardNegativeRounds = 1, SvmIterations = 20, SvmPositiveWeight = 10f, EnableCheckpoints = false, Progress = p,
            }).Fit(Detection(ml, voc))),
            ("DeepLab", (ml, p) => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions
            {
                ClassNames = SyntheticShapesDataset.SegmentationClassNames, InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.25f,
                AsppChannels = 32, LowLevelChannels = 16, BatchSize = 8, MaxSteps = Steps, Optimizer = OptimizerKind.Adam, LearningRate = 5e-3,
                Loss = SegmentationLossKind.CrossEntropyAndDice, Augmentation = new SegmentationAugmentation(MaxRotation: 15, Saturation: 0.3f, Hue: 10, ClassMix: 0.5f),
                Seed = 5, Device = DeviceSelection.Cpu, EnableCheckpoints = false, Progress = p,
            }).Fit(ml.Data.LoadFromPascalVocSegmentation(voc, "train"))),
        };
        string[]? only = Environment.GetEnvironmentVariable("MLNETEXT_SCALAR_STRESS_FAMILIES")?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        bool[] modes = Environment.GetEnvironmentVariable("MLNETEXT_SCALAR_STRESS_FORCED_ONLY") == "1" ? [true] : [false, true];
        output.WriteLine("family      collections   steps before the first error   errors   s");
        int totalErrors = 0;
        var traces = new List<string>();
        foreach (var (name, train) in families)
        {
            if (only is not null && !only.Contains(name, StringComparer.OrdinalIgnoreCase)) continue;
            foreach (bool stress in modes)
            {
                var (before, errors, seconds, trace) = Measure(train, stress);
                output.WriteLine($"{name,-11} {(stress ? "forced" : "normal"),-13} {before,29}   {errors,6}   {seconds,4:F0}");
                output.Flush();
                totalErrors += errors;
                if (trace is not null) traces.Add($"{name} ({(stress ? "forced" : "normal")}), first error:\n{trace}");
            }
        }
        foreach (string trace in traces) output.WriteLine(trace);
        output.WriteLine($"finalized-Scalar errors in all runs ({Steps} steps each, with and without forced collections): {totalErrors}");
    }

    private static SsdDetectorOptions Detector(DetectorArchitecture architecture, IProgress<TrainingProgress> progress) => new()
    {
        Architecture = architecture, InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, GridSize = 4, MinScale = 0.2f,
        BatchSize = 8, MaxSteps = Steps, WarmupSteps = 20, LearningRate = 3e-3, Seed = 7, Device = DeviceSelection.Cpu,
        EnableCheckpoints = false, Progress = progress,
    };

    /// <summary>The tiny Faster R-CNN of the tests: one stride-8 map, or the feature pyramid (levels 8, 16, 32).</summary>
    private static FasterRcnnDetectorOptions FasterRcnn(IProgress<TrainingProgress> progress, bool fpn) => new()
    {
        InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, FeatureStride = 8, AnchorSizes = fpn ? [16f, 32f, 64f] : [16f, 32f, 48f],
        Fpn = fpn, FpnOutChannels = 64, RoiCanonicalScale = 32,
        RpnPreNmsTopNTrain = 600, RpnPostNmsTopNTrain = 150, RpnPreNmsTopNTest = 300, RpnPostNmsTopNTest = 50,
        RpnBatchSizePerImage = 128, BoxBatchSizePerImage = 64, RepresentationSize = 128, BatchSize = 8, MaxSteps = Steps,
        WarmupSteps = 20, LearningRate = 2e-3, Seed = 7, Device = DeviceSelection.Cpu, EnableCheckpoints = false, Progress = progress,
    };

    private static IDataView Detection(MLContext ml, string voc)
        => ml.Data.LoadFromPascalVoc(voc, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });

    /// <summary>Steps reached before the first error (<see cref="Steps"/> when none), the errors seen (0–2), the seconds
    /// and the first error's stack where it was thrown (its managed frames name the TorchSharp call that read the freed Scalar).</summary>
    private static (int Before, int Errors, double Seconds, string? Trace) Measure(Action<MLContext, IProgress<TrainingProgress>> train, bool stress)
    {
        var ml = new MLContext(1);
        int last = 0, before = -1, errors = 0;
        string? trace = null;
        // Raised on the throwing thread before the stack unwinds, so Environment.StackTrace still holds the caller's frames.
        EventHandler<System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs> onThrow = (_, e) =>
        {
            if (trace is null && TrainingLoop.IsFinalizedScalarError(e.Exception))
                trace = FirstLine(e.Exception.Message) + "\n" + Environment.StackTrace;
        };
        AppDomain.CurrentDomain.FirstChanceException += onThrow;
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning && e.Message.Contains("TorchSharp#1434", StringComparison.Ordinal) && errors++ == 0) before = last;
        };
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() => { while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); } }) { IsBackground = true };
        if (stress) collector.Start();
        var clock = Stopwatch.StartNew();
        try { train(ml, new StepReport(p => last = p.Step)); }
        catch (Exception ex) when (TrainingLoop.IsFinalizedScalarError(ex))
        {
            if (errors++ == 0) before = last;
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= onThrow;
            stop.Cancel();
            if (stress) collector.Join();
        }
        return (before < 0 ? Steps : before, errors, clock.Elapsed.TotalSeconds, trace);
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

}
