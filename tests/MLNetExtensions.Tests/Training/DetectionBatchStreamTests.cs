using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The detectors' streamed training data (<see cref="DetectionBatchStream"/>): with the default augmentation on, 1 and
/// 3 data workers, a run started at a later step, and the in-memory cache all give bit-identical batch tensors and
/// targets; the streamed pixels are the held set's; a training image deleted after <c>Fit</c> started fails the run on
/// the training thread with the row and the file named, and no data worker outlives a <c>Fit</c>.
/// </summary>
[TestClass]
public sealed class DetectionBatchStreamTests
{
    private const int Size = 64;

    private static (MLContext Ml, IDataView Data) Shapes()
    {
        var ml = new MLContext(1);
        return (ml, DetectorTrainingTests.Load(ml, "train"));
    }

    /// <summary>Steps <paramref name="from"/>..<paramref name="to"/> (exclusive) of a stream as raw floats and targets.</summary>
    private static List<(float[] Pixels, float[] Boxes, long[] Labels)> Steps(MLContext ml, DetectionTrainingSet set, TrainingPlan plan,
        int workers, long cacheBudget, int from, int to, IReadOnlyList<NetworkInput>? inputs = null)
    {
        var steps = new List<(float[], float[], long[])>();
        using var stream = new DetectionBatchStream(set, plan, new DetectionAugmentation(), workers, prefetch: 2, cacheBudget, null, "test", inputs);
        Assert.AreEqual(cacheBudget > 0, stream.Caches);
        for (int step = from; step < to; step++)
        {
            using var scope = NewDisposeScope();
            var (images, targets) = stream.Batch(step, plan.Indices(step), CPU);
            var input = stream.InputOf(step);
            CollectionAssert.AreEqual(new long[] { plan.BatchSize, 3, input.Height, input.Width }, images.shape);
            steps.Add((images.data<float>().ToArray(), targets.SelectMany(t => t.Boxes).ToArray(), targets.SelectMany(t => t.Labels).ToArray()));
        }
        return steps;
    }

    private static void AssertSame(List<(float[] Pixels, float[] Boxes, long[] Labels)> expected, List<(float[] Pixels, float[] Boxes, long[] Labels)> actual, int firstStep, string what)
    {
        Assert.HasCount(expected.Count, actual);
        for (int k = 0; k < expected.Count; k++)
        {
            Assert.IsTrue(expected[k].Pixels.AsSpan().SequenceEqual(actual[k].Pixels), $"{what}: step {firstStep + k}'s pixels differ");
            CollectionAssert.AreEqual(expected[k].Boxes, actual[k].Boxes, $"{what}: step {firstStep + k}'s boxes differ");
            CollectionAssert.AreEqual(expected[k].Labels, actual[k].Labels, $"{what}: step {firstStep + k}'s labels differ");
        }
    }

    [TestMethod]
    public void WorkersResumeAndCacheDoNotChangeTheBatches()
    {
        var (ml, data) = Shapes();
        var set = DetectionTrainingSet.Create(ml, data, new NetworkInput(Size, Size, false), "ImagePath", "Boxes", "Labels", holdPixels: false);
        Assert.IsFalse(set.HoldsPixels, "a streamed set holds no pixels");
        var plan = new TrainingPlan(set.Count, BatchSize: 6, Seed: 11, TotalSteps: 100);
        int epochEnd = plan.StepsPerEpoch;   // the steps run across an epoch's end, where the order changes
        int from = epochEnd - 3, to = epochEnd + 3;

        var one = Steps(ml, set, plan, workers: 1, cacheBudget: 0, from, to);
        AssertSame(one, Steps(ml, set, plan, workers: 3, cacheBudget: 0, from, to), from, "3 workers against 1");
        AssertSame(one, Steps(ml, set, plan, workers: 0, cacheBudget: 0, from, to), from, "the training thread against 1 worker");
        AssertSame(one, Steps(ml, set, plan, workers: 3, cacheBudget: 1L << 30, from, to), from, "the in-memory cache against streaming");
        var resumed = Steps(ml, set, plan, workers: 2, cacheBudget: 0, epochEnd, to);
        AssertSame(one.Skip(3).ToList(), resumed, epochEnd, "a run resumed at the epoch's end against an uninterrupted one");

        var other = Steps(ml, set, plan with { Seed = 12 }, workers: 1, cacheBudget: 0, from, to);
        Assert.IsFalse(one.Zip(other).All(p => p.First.Pixels.AsSpan().SequenceEqual(p.Second.Pixels)), "another seed gives other batches: the augmentation is on");
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers);
    }

    /// <summary>
    /// Multi-scale training: each step's batch is made at the size the plan draws for that step from (seed, step) alone,
    /// so 1 and 3 workers and a resumed run give the same sizes and bit-identical batches; every listed size is used, and
    /// an unaugmented batch at another size is the original resized straight to it (not the input-size pixels rescaled).
    /// </summary>
    [TestMethod]
    public void MultiScaleStepsAreMadeAtTheirDrawnSizeWhateverTheWorkersAndResume()
    {
        var (ml, data) = Shapes();
        var input = new NetworkInput(Size, Size, false);
        var set = DetectionTrainingSet.Create(ml, data, input, "ImagePath", "Boxes", "Labels", holdPixels: false);
        var plan = new TrainingPlan(set.Count, BatchSize: 4, Seed: 5, TotalSteps: 100);
        var inputs = (DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { TrainingScales = [0.5f, 1f, 1.5f] }).TrainingInputs(input);
        CollectionAssert.AreEqual(new[] { 32, 64, 96 }, inputs.Select(i => i.Width).ToArray());

        var one = Steps(ml, set, plan, workers: 1, cacheBudget: 0, 0, 12, inputs);
        AssertSame(one, Steps(ml, set, plan, workers: 3, cacheBudget: 0, 0, 12, inputs), 0, "3 workers against 1, multi-scale");
        AssertSame(one.Skip(7).ToList(), Steps(ml, set, plan, workers: 2, cacheBudget: 0, 7, 12, inputs), 7, "resumed at step 7, multi-scale");
        var sizes = Enumerable.Range(0, 12).Select(s => inputs[plan.BatchChoice(s, inputs.Count)].Width).ToArray();
        CollectionAssert.AreEquivalent(new[] { 32, 64, 96 }, sizes.Distinct().ToArray(), $"sizes drawn: {string.Join(", ", sizes)}");
        CollectionAssert.AreEqual(sizes, Enumerable.Range(0, 12).Select(s => inputs[plan.BatchChoice(s, inputs.Count)].Width).ToArray(), "the draw is a function of (seed, step)");

        using var stream = new DetectionBatchStream(set, plan, augmentation: null, workers: 2, prefetch: 1, cacheBudget: 0, null, "test", inputs);
        int big = Array.IndexOf(sizes, 96);
        using var scope = NewDisposeScope();
        var (images, _) = stream.Batch(big, plan.Indices(big), CPU);
        var large = input with { Width = 96, Height = 96 };
        var expected = plan.Indices(big).SelectMany(i => large.ReadPixels(set.Paths[i]).Select(b => (float)b)).ToArray();
        Assert.IsTrue(expected.AsSpan().SequenceEqual(images.data<float>().ToArray()), "a 96-px step reads each original at 96 px");
    }

    private sealed class PathRow { public string ImagePath = ""; }

    [TestMethod]
    public void StreamedPixelsAreTheHeldSetsAndTheScoringChains()
    {
        var (ml, data) = Shapes();
        var input = new NetworkInput(Size, Size, false);
        var held = DetectionTrainingSet.Create(ml, data, input, "ImagePath", "Boxes", "Labels");
        var decoded = new byte[held.Count][];
        Parallel.For(0, held.Count, new ParallelOptions { MaxDegreeOfParallelism = 3 }, i => decoded[i] = input.ReadPixels(held.Paths[i]));
        for (int i = 0; i < held.Count; i++)
            Assert.IsTrue(held.PixelsOf(i).AsSpan().SequenceEqual(decoded[i]), $"image {i} ('{held.Paths[i]}') decodes to other pixels one at a time");
        // The scoring chain's pixel steps give the same values.
        var paths = ml.Data.LoadFromEnumerable(held.Paths.Take(5).Select(p => new PathRow { ImagePath = p }));
        var scored = input.PixelPipeline(ml, nameof(PathRow.ImagePath), "Pixels").Fit(paths).Transform(paths)
            .GetColumn<VBuffer<float>>("Pixels").Select(v => v.DenseValues().ToArray()).ToList();
        for (int i = 0; i < scored.Count; i++)
            CollectionAssert.AreEqual(held.PixelsOf(i).Select(b => (float)b).ToArray(), scored[i], $"image {i}: scoring reads the training pixels");

        var plan = new TrainingPlan(held.Count, BatchSize: 4, Seed: 1, TotalSteps: 2);
        var streamed = DetectionTrainingSet.Create(ml, data, input, "ImagePath", "Boxes", "Labels", holdPixels: false);
        Assert.AreEqual(held.ContentHash(), streamed.ContentHash(), "a checkpoint's data hash does not depend on holding the pixels");
        using var stream = new DetectionBatchStream(streamed, plan, augmentation: null, workers: 2, prefetch: 1, cacheBudget: 0, null, "test");
        using var scope = NewDisposeScope();
        var (images, _) = stream.Batch(0, plan.Indices(0), CPU);
        var (expected, _) = held.Batch(plan.Indices(0), null, new Random(0), CPU);
        Assert.IsTrue(expected.data<float>().ToArray().AsSpan().SequenceEqual(images.data<float>().ToArray()), "without augmentation a streamed batch is the held set's");
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void AnImageDeletedDuringFitFailsItWithTheRowAndTheFileNamed()
    {
        var ml = new MLContext(1);
        using var temp = new Data.TempFolder();
        var copies = CopiedTrainingImages(ml, temp, 8);
        var data = DetectionDataView.Create(ml, copies, SyntheticShapesDataset.ClassNames);
        // Two steps an epoch; deleted at the first step's report, the images are needed again by the second epoch.
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
        {
            MaxSteps = 8, BatchSize = 4, WarmupSteps = 0, EnableCheckpoints = false, PixelCacheBytes = 0, DataWorkers = 3,
            Progress = new SyncProgress(p => { if (p.Step == 1) foreach (var c in copies) File.Delete(c.ImagePath); }),
        };
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainSsdDetector(options).Fit(data));
        Console.WriteLine(ex.Message);
        var match = System.Text.RegularExpressions.Regex.Match(ex.Message, @"^Row (\d) of the training data: image '([^']+)' cannot be decoded while training \(");
        Assert.IsTrue(match.Success, ex.Message);
        Assert.AreEqual(copies[int.Parse(match.Groups[1].Value)].ImagePath, match.Groups[2].Value, "the row's own file is named");
        StringAssert.Contains(ex.Message, "restore the file, or drop the row and train again.");
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers, "the data workers end with the failed Fit");
    }

    /// <summary>The first <paramref name="count"/> rows of the built-in training split with their images copied into
    /// <paramref name="temp"/>, for tests that change or delete the files.</summary>
    internal static List<DetectionRecord> CopiedTrainingImages(MLContext ml, Data.TempFolder temp, int count)
        => DetectionDataView.ReadRecords(DetectorTrainingTests.Load(ml, "train")).Take(count).Select((r, i) =>
        {
            var path = temp[$"image{i}.png"];
            File.Copy(r.ImagePath, path);
            return new DetectionRecord(path, r.Boxes, r.Labels);
        }).ToList();

    [TestMethod]
    public void OneAndThreeWorkersTrainTheSameModel()
    {
        var (ml, data) = Shapes();
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
        {
            MaxSteps = 6, WarmupSteps = 0, EnableCheckpoints = false, Augmentation = new DetectionAugmentation(), PixelCacheBytes = 0,
        };
        var one = ml.Transforms.TrainSsdDetector(options with { DataWorkers = 1 }).Fit(data).OnnxModel;
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers, "the data workers end with the Fit");
        var three = ml.Transforms.TrainSsdDetector(options with { DataWorkers = 3, PrefetchBatches = 1 }).Fit(data).OnnxModel;
        Assert.IsTrue(one.AsSpan().SequenceEqual(three), "1 and 3 data workers export the same model bytes");
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers);
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
