using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using SkiaSharp;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// <see cref="DetectionTrainingSet.Create"/> reads each image file once, on several threads: the content hash it takes
/// from the bytes it checks is the one a checkpoint's fingerprint always had (each file's length and bytes, then the
/// row's boxes and labels, in row order), whatever the thread count, and no file is read again for it; with several bad
/// rows the lowest one is reported, as a check of one row after another would.
/// </summary>
[TestClass]
public sealed class DetectionTrainingSetTests
{
    private const int Rows = 40;

    private static string TempFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "training-set-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Image <paramref name="i"/>: a (40 + i) × 32 gradient, its own bytes.</summary>
    private static string Image(string folder, int i, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int seed = 0)
    {
        using var bitmap = new SKBitmap(40 + i, 32);
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++) bitmap.SetPixel(x, y, new SKColor((byte)(5 * x + i), (byte)(7 * y + seed), (byte)(x ^ y)));
        using var data = bitmap.Encode(format, 95);
        var path = Path.Combine(folder, $"{i:D3}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}");
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    private static List<DetectionRecord> Records(string folder)
        => Enumerable.Range(0, Rows).Select(i => new DetectionRecord(Image(folder, i), [new BoundingBox(1, 2, 20 + i % 7, 30)], [i % 3 == 0 ? "a" : "b"])).ToList();

    private static DetectionTrainingSet Create(MLContext ml, List<DetectionRecord> records, int threads)
        => DetectionTrainingSet.Create(ml, DetectionDataView.Create(ml, records, ["a", "b"]), new NetworkInput(16, 16, false),
            DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels, holdPixels: false, checkThreads: threads);

    [TestMethod]
    public void TheContentHashIsTheFilesHashTakenFromTheCheckedBytesWhateverTheThreads()
    {
        var folder = TempFolder();
        var ml = new MLContext(1);
        var records = Records(folder);
        var set = Create(ml, records, threads: 3);

        // What ContentHash read from the files before: every file again, then the row's target.
        string expected;
        using (var hash = new TrainingDataHash())
        {
            for (int i = 0; i < Rows; i++)
            {
                hash.AddFile(records[i].ImagePath);
                hash.Add<float>(set.Targets[i].Boxes);
                hash.Add<long>(set.Targets[i].Labels);
            }
            expected = hash.Finish();
        }
        Assert.AreEqual(expected, set.ContentHash());
        Assert.AreEqual(expected, Create(ml, records, threads: 1).ContentHash(), "one thread");

        // Taken from the bytes Create checked, not read again: a file changed afterwards does not change this set's hash
        // (a checkpoint fingerprint of the data that was checked), while a set made now sees the change.
        Image(folder, 17, seed: 99);
        Assert.AreEqual(expected, set.ContentHash());
        Assert.AreNotEqual(expected, Create(ml, records, threads: 2).ContentHash());
    }

    [TestMethod]
    public void WithSeveralBadRowsTheLowestIsReportedWhateverTheThreads()
    {
        var folder = TempFolder();
        var ml = new MLContext(1);
        var records = Records(folder);
        var cut = records[29].ImagePath;
        var bytes = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 2 / 3)]);
        File.Delete(records[17].ImagePath);
        records[33] = new DetectionRecord(records[33].ImagePath, [new BoundingBox(1, 1, 90, 20)], ["a"]);   // past the 73-px width

        foreach (int threads in new[] { 1, 4 })
        {
            var missing = Assert.ThrowsExactly<InvalidDataException>(() => Create(ml, records, threads));
            StringAssert.StartsWith(missing.Message, $"Row 17 of the training data: image '{records[17].ImagePath}' cannot be read: Could not find file", $"{threads} threads");
        }
        Image(folder, 17);
        foreach (int threads in new[] { 1, 4 })
        {
            var truncated = Assert.ThrowsExactly<InvalidDataException>(() => Create(ml, records, threads));
            StringAssert.StartsWith(truncated.Message, $"Row 29 of the training data: Image '{cut}' is truncated or damaged", $"{threads} threads");
        }
        Image(folder, 29);
        var outside = Assert.ThrowsExactly<InvalidDataException>(() => Create(ml, records, 4));
        StringAssert.StartsWith(outside.Message, $"Row 33 of the training data ('{records[33].ImagePath}'): box 0 ");
        StringAssert.Contains(outside.Message, "lies outside the 73×32 image.");
    }

    [TestMethod]
    public void ASetReadWithoutItsPixelsGivesTheHeldSetsBatchesKeptWithinTheBudgetAndNamesARowThatFails()
    {
        var folder = TempFolder();
        var ml = new MLContext(1);
        var records = Records(folder);
        var data = DetectionDataView.Create(ml, records, ["a", "b"]);
        DetectionTrainingSet Make(bool hold) => DetectionTrainingSet.Create(ml, data, new NetworkInput(16, 16, false),
            DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels, "validation data", holdPixels: hold, checkThreads: 2);
        var held = Make(true);
        var kept = Make(false);
        kept.DecodeOnDemand(threads: 3, budget: 1 << 20, log: null, logSource: "test");
        var streamed = Make(false);
        streamed.DecodeOnDemand(threads: 3, budget: 0, log: null, logSource: "test");
        Assert.IsFalse(kept.HoldsPixels);
        int[][] batches = [[0, 1, 2, 3], [7, 39, 12], [5]];
        foreach (var batch in batches)
        {
            var (expected, targets) = held.Batch(batch, null, new Random(0), TorchSharp.torch.CPU);
            foreach (var set in new[] { kept, streamed })
            {
                var (images, got) = set.Batch(batch, null, new Random(0), TorchSharp.torch.CPU);
                Assert.IsTrue(expected.eq(images).all().item<bool>(), "the same pixels as the held set's, bit for bit");
                CollectionAssert.AreEqual(targets.SelectMany(t => t.Boxes).ToArray(), got.SelectMany(t => t.Boxes).ToArray());
            }
        }

        // Kept after their first decode: with the files gone, the kept set still reads the rows it has read; the
        // streamed one (budget 0) reads the files again and names the row that fails.
        foreach (var r in records) File.Delete(r.ImagePath);
        var (again, _) = kept.Batch([7, 39, 12], null, new Random(0), TorchSharp.torch.CPU);
        Assert.IsTrue(held.Batch([7, 39, 12], null, new Random(0), TorchSharp.torch.CPU).Images.eq(again).all().item<bool>());
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => streamed.Batch([5], null, new Random(0), TorchSharp.torch.CPU));
        StringAssert.StartsWith(ex.Message, $"Row 5 of the validation data: image '{records[5].ImagePath}' cannot be decoded while training (");
    }
}
