using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

/// <summary>
/// DeepLab's streamed training data (<see cref="SegmentationBatchStream"/>): with scale, rotation, flip, colour and
/// ClassMix on, 0 (the training thread), 1 and 3 data workers, a run started at a later step and the in-memory cache give bit-identical images
/// and targets; without augmentation a streamed batch is the held set's; the streamed set keeps the held set's content
/// hash (so checkpoints resume), and no data worker outlives the stream.
/// </summary>
[TestClass]
public sealed class SegmentationBatchStreamTests
{
    private static readonly SegmentationAugmentation Everything = new(MinScale: 0.5f, MaxScale: 2f, MaxRotation: 15, Saturation: 0.3f, Hue: 10, ClassMix: 0.5f);

    private static SegmentationTrainingSet Set(bool hold)
    {
        var ml = new MLContext(1);
        return SegmentationTrainingSet.Create(ml, ml.Data.LoadFromPascalVocSegmentation(DetectorTrainingTests.TinyShapes, "train"),
            new NetworkInput(64, 48, false), "ImagePath", "MaskPath", SyntheticShapesDataset.SegmentationClassNames, holdImages: hold);
    }

    private static List<(float[] Images, long[] Targets)> Steps(SegmentationTrainingSet set, TrainingPlan plan, SegmentationAugmentation? augmentation,
        int workers, long cacheBudget, int from, int to)
    {
        var steps = new List<(float[], long[])>();
        using var stream = new SegmentationBatchStream(set, plan, augmentation, workers, prefetch: 2, cacheBudget, null, "test");
        Assert.AreEqual(cacheBudget > 0, stream.Caches);
        for (int step = from; step < to; step++)
        {
            using var scope = NewDisposeScope();
            var (images, targets) = stream.Batch(step, plan.Indices(step), plan.StepRandom(step), CPU);
            CollectionAssert.AreEqual(new long[] { plan.BatchSize, 3, 48, 64 }, images.shape);
            CollectionAssert.AreEqual(new long[] { plan.BatchSize, 48, 64 }, targets.shape);
            steps.Add((images.data<float>().ToArray(), targets.data<long>().ToArray()));
        }
        return steps;
    }

    private static void AssertSame(List<(float[] Images, long[] Targets)> expected, List<(float[] Images, long[] Targets)> actual, int firstStep, string what)
    {
        Assert.HasCount(expected.Count, actual);
        for (int k = 0; k < expected.Count; k++)
        {
            Assert.IsTrue(expected[k].Images.AsSpan().SequenceEqual(actual[k].Images), $"{what}: step {firstStep + k}'s images differ");
            Assert.IsTrue(expected[k].Targets.AsSpan().SequenceEqual(actual[k].Targets), $"{what}: step {firstStep + k}'s targets differ");
        }
    }

    [TestMethod]
    public void WorkersResumeAndCacheDoNotChangeTheBatches()
    {
        var set = Set(hold: false);
        Assert.IsFalse(set.HoldsImages);
        Assert.AreEqual(Set(hold: true).ContentHash(), set.ContentHash(), "a checkpoint's data hash does not depend on holding the images");
        var plan = new TrainingPlan(set.Count, BatchSize: 5, Seed: 3, TotalSteps: 100);
        int epochEnd = plan.StepsPerEpoch;   // across an epoch's end, where the order changes
        int from = epochEnd - 2, to = epochEnd + 2;
        var one = Steps(set, plan, Everything, workers: 1, cacheBudget: 0, from, to);
        AssertSame(one, Steps(set, plan, Everything, workers: 3, cacheBudget: 0, from, to), from, "3 workers against 1");
        AssertSame(one, Steps(set, plan, Everything, workers: 0, cacheBudget: 0, from, to), from, "the training thread (DeepLab's default) against 1 worker");
        AssertSame(one, Steps(set, plan, Everything, workers: 2, cacheBudget: 1L << 30, from, to), from, "the in-memory cache against streaming");
        AssertSame(one.Skip(2).ToList(), Steps(set, plan, Everything, workers: 2, cacheBudget: 0, epochEnd, to), epochEnd, "resumed at the epoch's end");
        var other = Steps(set, plan with { Seed = 4 }, Everything, workers: 1, cacheBudget: 0, from, to);
        Assert.IsFalse(one.Zip(other).All(p => p.First.Images.AsSpan().SequenceEqual(p.Second.Images)), "another seed gives other batches: the augmentation is on");
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers);
    }

    [TestMethod]
    public void WithoutAugmentationAStreamedBatchIsTheHeldSets()
    {
        var held = Set(hold: true);
        var plan = new TrainingPlan(held.Count, BatchSize: 4, Seed: 1, TotalSteps: 3);
        var streamed = Steps(Set(hold: false), plan, null, workers: 2, cacheBudget: 0, 0, 3);
        for (int step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            var (images, targets) = held.Batch(plan.Indices(step), null, new Random(0), CPU);
            Assert.IsTrue(images.data<float>().ToArray().AsSpan().SequenceEqual(streamed[step].Images), $"step {step}: images");
            Assert.IsTrue(targets.data<long>().ToArray().AsSpan().SequenceEqual(streamed[step].Targets), $"step {step}: targets");
        }
    }

    [TestMethod]
    public void AValidationSetReadWithoutItsImagesGivesTheHeldSetsBatchesAndMasksAndNamesARowThatFails()
    {
        using var temp = CopyOfTinyShapes();
        var ml = new MLContext(1);
        SegmentationTrainingSet Make(bool hold) => SegmentationTrainingSet.Create(ml, ml.Data.LoadFromPascalVocSegmentation(temp.Path, "train"),
            new NetworkInput(64, 48, false), "ImagePath", "MaskPath", SyntheticShapesDataset.SegmentationClassNames, "validation data", holdImages: hold);
        var held = Make(true);
        var kept = Make(false);
        kept.DecodeOnDemand(threads: 3, budget: 64 << 20, log: null, logSource: "test");
        var decoded = Make(false);
        decoded.DecodeOnDemand(threads: 3, budget: 0, log: null, logSource: "test");
        int[] batch = [0, 3, 1, held.Count - 1];
        var (images, targets) = held.Batch(batch, null, new Random(0), CPU);
        foreach (var set in new[] { kept, decoded })
        {
            var (i2, t2) = set.Batch(batch, null, new Random(0), CPU);
            Assert.IsTrue(images.eq(i2).all().item<bool>() && targets.eq(t2).all().item<bool>(), "the held set's images and targets, bit for bit");
            foreach (int row in batch) CollectionAssert.AreEqual(held.Mask(row), set.Mask(row));
            // An unaugmented batch's targets are its rows' masks at the input size (what validation counts).
            var truth = t2.to(ScalarType.Byte).data<byte>().ToArray();
            for (int b = 0; b < batch.Length; b++)
                Assert.IsTrue(truth.AsSpan(b * 48 * 64, 48 * 64).SequenceEqual(set.Mask(batch[b])), $"row {batch[b]}: the batch's target is its Mask");
        }

        // Kept after the first read, the rows are read again with their files gone; decoded each time, a row names itself.
        foreach (var f in Directory.GetFiles(temp["JPEGImages"])) File.Delete(f);
        var (again, _) = kept.Batch(batch, null, new Random(0), CPU);
        Assert.IsTrue(images.eq(again).all().item<bool>());
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => decoded.Batch([3], null, new Random(0), CPU));
        StringAssert.StartsWith(ex.Message, $"Row 3 of the validation data: image '{decoded.ImagePaths[3]}' cannot be decoded while training (");
    }

    /// <summary>The tiny built-in set's segmentation files, copied into a folder of their own (for tests that change them).</summary>
    private static Data.TempFolder CopyOfTinyShapes()
    {
        var temp = new Data.TempFolder();
        foreach (var dir in new[] { "JPEGImages", "SegmentationClass", Path.Combine("ImageSets", "Segmentation") })
        {
            Directory.CreateDirectory(temp[dir]);
            foreach (var f in Directory.GetFiles(Path.Combine(DetectorTrainingTests.TinyShapes, dir))) File.Copy(f, Path.Combine(temp[dir], Path.GetFileName(f)));
        }
        return temp;
    }

    [TestMethod]
    public void TheRowCheckGivesTheSameSetAndReportsTheLowestBadRowWhateverTheThreads()
    {
        using var temp = CopyOfTinyShapes();
        var ml = new MLContext(1);
        SegmentationTrainingSet Make(int threads, string[]? names) => SegmentationTrainingSet.Create(ml, ml.Data.LoadFromPascalVocSegmentation(temp.Path, "train"),
            new NetworkInput(64, 48, false), "ImagePath", "MaskPath", names, holdImages: false, checkThreads: threads);
        var one = Make(1, null);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Make(threads, null);
            Assert.AreEqual(one.ContentHash(), many.ContentHash(), $"{threads} threads: the hash of one");
            CollectionAssert.AreEqual(one.ClassNames, many.ClassNames);
            CollectionAssert.AreEqual(one.Sizes, many.Sizes);
        }
        Assert.AreEqual(Set(hold: true).ContentHash(), one.ContentHash(), "the held set's hash (checkpoints resume)");

        // Row 6's image and row 2's mask cut short (decode errors, found in parallel), and with two class names
        // the first mask holding a larger value (found in row order after decoding): the lowest bad row is reported.
        int classRow = FirstRowWithValueAbove(one, 1);
        var paths = one.ImagePaths;
        var bytes = File.ReadAllBytes(paths[6]);
        File.WriteAllBytes(paths[6], bytes[..(bytes.Length / 2)]);
        var mask = File.ReadAllBytes(one.MaskPaths[2]);
        File.WriteAllBytes(one.MaskPaths[2], mask[..(mask.Length / 2)]);
        foreach (int threads in new[] { 1, 3 })
        {
            var decode = Assert.ThrowsExactly<InvalidDataException>(() => Make(threads, null));
            StringAssert.StartsWith(decode.Message, $"Row 2 of the training data: ", $"{threads} threads");
            StringAssert.Contains(decode.Message, one.MaskPaths[2]);
            var mixed = Assert.ThrowsExactly<InvalidDataException>(() => Make(threads, ["background", "circle"]));
            StringAssert.StartsWith(mixed.Message, $"Row {Math.Min(classRow, 2)} of the training data: ", $"{threads} threads");
        }
        File.Copy(Path.Combine(DetectorTrainingTests.TinyShapes, "SegmentationClass", Path.GetFileName(one.MaskPaths[2])), one.MaskPaths[2], overwrite: true);
        var cut = Assert.ThrowsExactly<InvalidDataException>(() => Make(3, null));
        StringAssert.StartsWith(cut.Message, $"Row 6 of the training data: Image '{paths[6]}' is truncated or damaged");
    }

    [TestMethod]
    public void AnImageDamagedOnlyInsideItsPixelDataPassesTheStreamedRowCheckAndFailsWhereItIsDecodedWithItsRowNamed()
    {
        // The streamed set checks an image's structure at Fit, not its pixels: a PNG whose image data stop halfway,
        // re-wrapped with a correct CRC, passes the check (a held set, which decodes it, refuses it there) and fails in the
        // data stream, naming its row.
        using var temp = CopyOfTinyShapes();
        var ml = new MLContext(1);
        SegmentationTrainingSet Make(bool hold) => SegmentationTrainingSet.Create(ml, ml.Data.LoadFromPascalVocSegmentation(temp.Path, "train"),
            new NetworkInput(64, 48, false), "ImagePath", "MaskPath", SyntheticShapesDataset.SegmentationClassNames, holdImages: hold);
        const int damagedRow = 3;
        var path = Make(false).ImagePaths[damagedRow];
        using (var image = SkiaSharp.SKBitmap.Decode(path))
        using (var png = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
            File.WriteAllBytes(path, Data.ImageFileIntegrityTests.HalveImageData(png.ToArray()));   // a PNG under the .jpg name: decoders go by content

        var streamed = Make(false);
        var held = Assert.ThrowsExactly<InvalidDataException>(() => Make(true));
        StringAssert.StartsWith(held.Message, $"Row {damagedRow} of the training data: Image '{path}' is truncated or damaged (");
        var plan = new TrainingPlan(streamed.Count, BatchSize: 4, Seed: 1, TotalSteps: 100);
        using var stream = new SegmentationBatchStream(streamed, plan, null, workers: 1, prefetch: 2, cacheBudget: 0, null, "test");
        var ex = Assert.ThrowsExactly<InvalidDataException>(() =>
        {
            for (int step = 0; step < plan.StepsPerEpoch; step++)   // an epoch reads every row
            {
                using var scope = NewDisposeScope();
                stream.Batch(step, plan.Indices(step), plan.StepRandom(step), CPU);
            }
        });
        StringAssert.StartsWith(ex.Message, $"Row {damagedRow} of the training data: image '{path}' cannot be decoded while training (InvalidDataException: Image '{path}' is truncated or damaged (");
    }

    /// <summary>The first row whose mask holds a class index above <paramref name="max"/> (255 = ignore not counted).</summary>
    private static int FirstRowWithValueAbove(SegmentationTrainingSet set, int max)
        => Enumerable.Range(0, set.Count).First(r => MLNetExtensions.Data.Masks.SegmentationMask.CreateFromFile(set.MaskPaths[r]).Pixels.Any(v => v > max && v != 255));
}
