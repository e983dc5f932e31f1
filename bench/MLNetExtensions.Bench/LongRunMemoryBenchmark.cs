using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;

namespace MLNetExtensions.Bench;

/// <summary>
/// Memory over a long run (issue #18; dotnet/machinelearning#7219 reports 2 → 4 GB growth in ML.NET's own TorchSharp
/// detector): a tiny SSD (64-px shapes, width 0.25, batch 4, one thread, the default augmentation and checkpoints every
/// 200 steps) trains 10,000 steps, printing the process RSS, the managed heap and TorchSharp's live-tensor count on the
/// training thread every 1,000 steps; then the trained model scores 10,000 images through <c>Transform</c> (every
/// output row read through a cursor) and through a <c>PredictionEngine</c>, printing RSS every 1,000 images. Prints each
/// phase's RSS slope after warm-up (least squares over the samples from 2,000 on); the last line's last number is
/// the training slope, MB per 1,000 steps.
/// </summary>
public sealed class LongRunMemoryBenchmark : IBenchmark
{
    private const int Steps = 10_000, Every = 1_000, Images = 10_000;

    public string Name => "long-run-memory";
    public string Description => $"RSS and live tensors over {Steps:N0} training steps, then {Images:N0} images through Transform and PredictionEngine";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        string voc = SyntheticShapesDataset.Ensure(Path.Combine(Path.GetTempPath(), "mlnetext-bench-tiny-shapes"),
            new SyntheticShapesOptions { ImageSize = 64, TrainImages = 48, ValidationImages = 16, TestImages = 0, MaxObjectsPerImage = 2, MinObjectSize = 14, Seed = 3 });
        string checkpoints = Path.Combine(Path.GetTempPath(), "mlnetext-bench-long-run-" + Guid.NewGuid().ToString("N")[..8]);
        var ml = new MLContext(1);
        var train = ml.Data.LoadFromPascalVoc(voc, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });

        var training = new List<(double X, double Mb, long Tensors)>();
        var clock = Stopwatch.StartNew();
        output.WriteLine($"training {Steps:N0} steps (64 px, width 0.25, batch 4, 1 thread, default augmentation, checkpoints every 200 steps in '{checkpoints}')");
        output.WriteLine("   step     RSS MB   managed MB   live tensors   s");
        Sample(output, training, 0, clock, tensors: true);
        var options = new SsdDetectorOptions
        {
            InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.25f, GridSize = 4, MinScale = 0.2f,
            BatchSize = 4, MaxSteps = Steps, WarmupSteps = 50, LearningRate = 3e-3, Seed = 7, CpuThreads = 1,
            Device = DeviceSelection.Cpu, CheckpointFolder = checkpoints, ScoreThreshold = 0.05f,
            Progress = new StepReport(p => { if (p.Step % Every == 0) Sample(output, training, p.Step, clock, tensors: true); }),
        };
        DetectionTransformer model;
        try { model = ml.Transforms.TrainSsdDetector(options).Fit(train); }
        finally { if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true); }

        var images = Directory.GetFiles(Path.Combine(voc, "JPEGImages"), "*.png").Order().ToArray();
        IEnumerable<ImageInput> Rows() { for (int i = 0; i < Images; i++) yield return new ImageInput { ImagePath = images[i % images.Length] }; }

        var transform = new List<(double X, double Mb, long Tensors)>();
        output.WriteLine($"Transform: {Images:N0} rows ({images.Length} distinct images), every column of every output row read");
        output.WriteLine("  image     RSS MB   managed MB   s");
        clock.Restart();
        Sample(output, transform, 0, clock, tensors: false);
        var scored = model.Transform(ml.Data.LoadFromEnumerable(Rows()));
        int detections = 0, row = 0;
        using (var cursor = scored.GetRowCursor(scored.Schema))
        {
            var getters = scored.Schema.Where(c => c.Name == "Scores").Select(c => cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(c)).ToArray();
            var scores = default(Microsoft.ML.Data.VBuffer<float>);
            while (cursor.MoveNext())
            {
                getters[0](ref scores);
                detections += scores.Length;
                if (++row % Every == 0) Sample(output, transform, row, clock, tensors: false);
            }
        }

        var engineRss = new List<(double X, double Mb, long Tensors)>();
        output.WriteLine($"PredictionEngine: {Images:N0} images");
        output.WriteLine("  image     RSS MB   managed MB   s");
        clock.Restart();
        Sample(output, engineRss, 0, clock, tensors: false);
        using (var engine = ml.Model.CreatePredictionEngine<ImageInput, DetectionPrediction>(model))
        {
            int i = 0;
            foreach (var input in Rows())
            {
                detections += engine.Predict(input).Scores.Length;
                if (++i % Every == 0) Sample(output, engineRss, i, clock, tensors: false);
            }
        }
        model.Dispose();

        double trainSlope = Slope(training) * 1000, transformSlope = Slope(transform) * 1000, engineSlope = Slope(engineRss) * 1000;
        output.WriteLine($"{detections / (2.0 * Images):F1} detections per image");
        output.WriteLine($"RSS slope after warm-up: Transform {transformSlope:F2} MB per 1k images, PredictionEngine {engineSlope:F2} MB per 1k images");
        output.WriteLine($"live tensors on the training thread: {training[1].Tensors} at step {Every}, {training[^1].Tensors} at step {Steps}");
        output.WriteLine($"RSS slope after warm-up: training {trainSlope:F2} MB per 1k steps");
    }


    private static void Sample(TextWriter output, List<(double X, double Mb, long Tensors)> samples, int x, Stopwatch clock, bool tensors)
    {
        using var self = Process.GetCurrentProcess();
        double rss = self.WorkingSet64 / (1024.0 * 1024), managed = GC.GetTotalMemory(false) / (1024.0 * 1024);
        long live = tensors ? DisposeScopeManager.Statistics.ThreadTotalLiveCount : 0;
        samples.Add((x, rss, live));
        if (tensors)
        {
            output.WriteLine($"{x,7} {rss,10:F1} {managed,12:F1} {live,14} {clock.Elapsed.TotalSeconds,5:F0}");
        }
        else output.WriteLine($"{x,7} {rss,10:F1} {managed,12:F1} {clock.Elapsed.TotalSeconds,5:F0}");
    }

    /// <summary>Least-squares slope of MB over x after warm-up: the samples from the third on (x = 2,000 on).</summary>
    private static double Slope(List<(double X, double Mb, long Tensors)> samples)
    {
        var s = samples.Skip(2).ToList();
        double mx = s.Average(p => p.X), my = s.Average(p => p.Mb);
        return s.Sum(p => (p.X - mx) * (p.Mb - my)) / s.Sum(p => (p.X - mx) * (p.X - mx));
    }
}
