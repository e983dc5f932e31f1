using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data.Synthetic;
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
    private const int Steps = 300;

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
            ("DeepLab", (ml, p) => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions
            {
                ClassNames = SyntheticShapesDataset.SegmentationClassNames, InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.25f,
                AsppChannels = 32, LowLevelChannels = 16, BatchSize = 8, MaxSteps = Steps, Optimizer = OptimizerKind.Adam, LearningRate = 5e-3,
                Seed = 5, Device = DeviceSelection.Cpu, EnableCheckpoints = false, Progress = p,
            }).Fit(ml.Data.LoadFromPascalVocSegmentation(voc, "train"))),
        };
        output.WriteLine("family    collections   steps before the first error   errors   s");
        int ssdUnderStress = 0;
        foreach (var (name, train) in families)
            foreach (bool stress in new[] { false, true })
            {
                var (before, errors, seconds) = Measure(train, stress);
                output.WriteLine($"{name,-9} {(stress ? "forced" : "normal"),-13} {before,29}   {errors,6}   {seconds,4:F0}");
                if (name == "SSD" && stress) ssdUnderStress = before;
            }
        output.WriteLine($"SSD steps before the first finalized-Scalar error under forced collections (of {Steps}): {ssdUnderStress}");
    }

    private static SsdDetectorOptions Detector(DetectorArchitecture architecture, IProgress<TrainingProgress> progress) => new()
    {
        Architecture = architecture, InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, GridSize = 4, MinScale = 0.2f,
        BatchSize = 8, MaxSteps = Steps, WarmupSteps = 20, LearningRate = 3e-3, Seed = 7, Device = DeviceSelection.Cpu,
        EnableCheckpoints = false, Progress = progress,
    };

    private static IDataView Detection(MLContext ml, string voc)
        => ml.Data.LoadFromPascalVoc(voc, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });

    /// <summary>Steps reached before the first error (<see cref="Steps"/> when none), the errors seen (0–2) and the seconds.</summary>
    private static (int Before, int Errors, double Seconds) Measure(Action<MLContext, IProgress<TrainingProgress>> train, bool stress)
    {
        var ml = new MLContext(1);
        int last = 0, before = -1, errors = 0;
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
            stop.Cancel();
            if (stress) collector.Join();
        }
        return (before < 0 ? Steps : before, errors, clock.Elapsed.TotalSeconds);
    }

}
