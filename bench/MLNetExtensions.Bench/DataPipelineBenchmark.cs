using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// The detectors' streamed training data (issue #16 item 5). First the pipeline alone, no training: a
/// <see cref="DetectionBatchStream"/> (what SSD, grid and Faster R-CNN train from) over 400-px generated shapes at a
/// 300×300 input with the default <see cref="DetectionAugmentation"/> (SSD's: flip, random crop, photometric jitter), not
/// cached, so every image is read, decoded, resized and augmented; images/s with 1, 2 and N data workers (N = the core
/// count), the configurations in turns over <see cref="Rounds"/> rounds, medians. Then a real SSD (300×300, defaults,
/// batch 8, streamed, 2 workers) trains <see cref="TrainSteps"/> steps and the time its training thread spent blocked in
/// the prefetcher's <c>Take</c> (<see cref="BatchPrefetcher.TakeSeconds"/>) is set against the steps' wall time after
/// <see cref="WarmupSteps"/> steps. The last line's last number is that share in percent.
/// </summary>
public sealed class DataPipelineBenchmark : IBenchmark
{
    private const int Originals = 400, Input = 300, BatchSize = 8, Images = 256;
    private const int Rounds = 5, StepsPerRound = 12, TrainSteps = 24, WarmupSteps = 4, TrainWorkers = 2, TrainRounds = 3;

    public string Name => "data-pipeline";
    public string Description => $"images/s of the streamed detection data ({Originals}-px originals, {Input}-px input, SSD augmentation) for 1, 2 and N workers; the data-wait share of an SSD step with {TrainWorkers} workers";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        string voc = SyntheticShapesDataset.Ensure(Path.Combine(Path.GetTempPath(), "mlnetext-bench-shapes-400"),
            new SyntheticShapesOptions { ImageSize = Originals, TrainImages = Images, ValidationImages = 0, TestImages = 0, Seed = 11 });
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromPascalVoc(voc, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        var input = new NetworkInput(Input, Input, false);
        DetectionTrainingSet Check() => DetectionTrainingSet.Create(ml, data, input, DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels, holdPixels: false);
        var set = Check();   // once untimed: the files into the OS cache, the rows read
        // Baseline, in turns with it: what the row check did before it checked the files' structure only, a complete
        // decode of every file (read once, on the same threads), then the same SHA-256 of the bytes in row order.
        void DecodeAll()
        {
            var files = new byte[set.Count][];
            Parallel.For(0, set.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                i => ImageFileDecoder.Check(set.Paths[i], files[i] = File.ReadAllBytes(set.Paths[i])));
            using var hash = new TrainingDataHash();
            foreach (var file in files) hash.Add(file);
            hash.Finish();
        }
        var checks = new List<double>();
        var decodes = new List<double>();
        for (int k = 0; k < 3; k++)
        {
            var check = Stopwatch.StartNew();
            Check();
            checks.Add(check.Elapsed.TotalSeconds);
            var decode = Stopwatch.StartNew();
            DecodeAll();
            decodes.Add(decode.Elapsed.TotalSeconds);
        }
        double perImage = Median(checks) / set.Count, perDecode = Median(decodes) / set.Count;
        output.WriteLine($"Fit's row check (read once, structure checked, boxes, hash; {Environment.ProcessorCount} threads): {perImage * 1000:F2} ms per {Originals}-px image, median of 3 → {perImage * 20_000:F1} s for 20,000 such images");
        output.WriteLine($"  against a complete decode of every file and the same hash (the check before; same threads, in turns): {perDecode * 1000:F2} ms per image → {perDecode * 20_000:F1} s for 20,000; {perDecode / perImage:F1}× faster");
        // DeepLab's row check decodes every mask (its classes) and checks each image's structure (the hash is over the
        // image files' bytes); against the complete decode of the image too (what a held set does, the check before), in turns.
        var segmentation = ml.Data.LoadFromPascalVocSegmentation(voc, "train");
        double SegmentationCheck(bool decodeImages)
        {
            var clock = Stopwatch.StartNew();
            Torch.Segmentation.SegmentationTrainingSet.Create(ml, segmentation, input, "ImagePath", "MaskPath", SyntheticShapesDataset.SegmentationClassNames,
                holdImages: decodeImages);
            return clock.Elapsed.TotalSeconds / set.Count;
        }
        SegmentationCheck(false);
        var (structure, complete) = (new List<double>(), new List<double>());
        for (int k = 0; k < 3; k++) { structure.Add(SegmentationCheck(false)); complete.Add(SegmentationCheck(true)); }
        output.WriteLine($"DeepLab's row check (mask decoded, classes, image structure, hash; {Environment.ProcessorCount} threads): {Median(structure) * 1000:F2} ms per {Originals}-px row, " +
                         $"median of 3 → {Median(structure) * 20_000:F1} s for 20,000 rows");
        output.WriteLine($"  against decoding every image too (the check before; same threads, in turns): {Median(complete) * 1000:F2} ms per row → " +
                         $"{Median(complete) * 20_000:F1} s for 20,000; {Median(complete) / Median(structure):F1}× faster");
        var augmentation = new DetectionAugmentation();

        int cores = Environment.ProcessorCount;
        int[] workers = new[] { 1, 2, cores }.Distinct().ToArray();
        output.WriteLine($"pipeline alone: {set.Count} images of {Originals}×{Originals} px → {Input}×{Input}, {augmentation}, batch {BatchSize}, " +
                         $"prefetch 2, not cached; {StepsPerRound} steps per configuration per round after one untimed step, {Rounds} rounds in turns; {cores} cores");
        var rates = workers.ToDictionary(w => w, _ => new List<double>());
        for (int round = 0; round < Rounds; round++)
            foreach (int w in workers)
            {
                // A fresh plan per round and configuration, so no round sees another's images in the OS page cache first.
                var plan = new TrainingPlan(set.Count, BatchSize, 100 + round, StepsPerRound + 1);
                using var stream = new DetectionBatchStream(set, plan, augmentation, w, prefetch: 2, cacheBudget: 0, null, "bench");
                Take(stream, plan, 0);   // starts the workers, fills the decoders' engine pool
                var clock = Stopwatch.StartNew();
                for (int step = 1; step <= StepsPerRound; step++) Take(stream, plan, step);
                rates[w].Add(StepsPerRound * BatchSize / clock.Elapsed.TotalSeconds);
            }
        output.WriteLine("workers   images/s (median)   min    max   vs 1 worker");
        double one = Median(rates[1]);
        foreach (int w in workers)
            output.WriteLine($"{w,7}   {Median(rates[w]),17:F1}   {rates[w].Min(),5:F1}  {rates[w].Max(),5:F1}   {Median(rates[w]) / one,6:F2}×{(w == cores ? "  (N = cores)" : "")}");

        // The training step with 0 workers (the batch made on the training thread: no thread beyond libtorch's), 1 and
        // TrainWorkers, in turns; the wait share is the TrainWorkers runs'.
        int[] trainWorkers = [0, 1, TrainWorkers];
        var steps = trainWorkers.ToDictionary(w => w, _ => new List<double>());
        var shares = new List<(double Share, double Wait)>();
        for (int round = 0; round < TrainRounds; round++)
            foreach (int w in trainWorkers)
            {
                var (runShare, runStep, runWait) = WaitShare(ml, data, output, w);
                steps[w].Add(runStep);
                if (w == TrainWorkers) shares.Add((runShare, runWait));
            }
        output.WriteLine($"SSD {Input}×{Input} training, steps {WarmupSteps + 1}–{TrainSteps}, libtorch threads {get_num_threads()} on {cores} cores, {TrainRounds} rounds in turns, medians:");
        foreach (int w in trainWorkers)
            output.WriteLine($"  {w} data workers{(w == 0 ? " (batches on the training thread)" : "")}: {Median(steps[w]):F3} s per step, {Median(steps[0]) / Median(steps[w]):F2}× the speed with 0");
        var (share, waitSeconds) = shares.OrderBy(x => x.Share).ElementAt(shares.Count / 2);
        output.WriteLine($"  with {TrainWorkers} workers {waitSeconds * 1000:F1} ms of a step waiting for data");
        output.WriteLine($"share of an SSD training step ({Input} px, batch {BatchSize}, streamed, {TrainWorkers} data workers) spent waiting for data, percent: {share:F2}");
    }

    private static void Take(DetectionBatchStream stream, TrainingPlan plan, int step)
    {
        using var scope = NewDisposeScope();
        stream.Batch(step, plan.Indices(step), CPU);
    }

    /// <summary>The share of the steps after warm-up spent in the prefetcher's <c>Take</c>, the mean step and the mean wait.</summary>
    private static (double Percent, double StepSeconds, double WaitSeconds) WaitShare(MLContext ml, IDataView data, TextWriter output, int workers)
    {
        var clock = Stopwatch.StartNew();
        double startTime = 0, startTake = 0, endTime = 0, endTake = 0;
        var options = new SsdDetectorOptions
        {
            InputWidth = Input, InputHeight = Input, BatchSize = BatchSize, MaxSteps = TrainSteps, WarmupSteps = 2, Seed = 7,
            Device = DeviceSelection.Cpu, EnableCheckpoints = false, DataWorkers = workers, PixelCacheBytes = 0,
            Progress = new StepReport(p =>
            {
                if (p.Step == WarmupSteps) (startTime, startTake) = (clock.Elapsed.TotalSeconds, BatchPrefetcher.TakeSeconds);
                if (p.Step == TrainSteps) (endTime, endTake) = (clock.Elapsed.TotalSeconds, BatchPrefetcher.TakeSeconds);
            }),
        };
        output.WriteLine($"training an SSD (defaults, {Input}×{Input}, batch {BatchSize}, {workers} data workers, PixelCacheBytes = 0) {TrainSteps} steps");
        using (ml.Transforms.TrainSsdDetector(options).Fit(data)) { }
        int steps = TrainSteps - WarmupSteps;
        double wall = endTime - startTime, wait = endTake - startTake;
        return (100 * wait / wall, wall / steps, wait / steps);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
