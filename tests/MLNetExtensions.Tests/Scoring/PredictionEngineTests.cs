using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// The typed classes (<see cref="ImageInput"/>, <see cref="DetectionPrediction"/>, <see cref="SegmentationPrediction"/>)
/// read what <c>Transform</c> writes, through <c>PredictionEngine</c>, <c>CreateEnumerable</c> and the one-call helpers,
/// on trained and reloaded models, and from 8 threads at once. The reference is always the scored view read column by
/// column with cursors (<see cref="ScoredColumns"/>), not another typed read. A fresh process's typed engine is
/// compared in <see cref="SaveLoadTests"/> and <see cref="SegmentationSaveLoadTests"/>.
/// </summary>
[TestClass]
public sealed class PredictionEngineTests
{
    private const int Threads = 8;

    /// <summary>The 16 validation images of the tiny shapes set.</summary>
    private static string[] Images() => TinyTrainedDetector.Images(16);

    private static IDataView View(MLContext ml, IEnumerable<string> images)
        => ml.Data.LoadFromEnumerable(images.Select(p => new ImageInput { ImagePath = p }));

    /// <summary>Each row's detections as text ("R" floats), from the scored view's own columns.</summary>
    private static List<string> Expected(IDataView scored)
    {
        var columns = ScoredColumns.Read(scored);
        var boxes = columns.Single(c => c.Name == DetectionColumns.PredictedBoxes);
        var labels = columns.Single(c => c.Name == DetectionColumns.PredictedLabels);
        var scores = columns.Single(c => c.Name == DetectionColumns.Scores);
        return Enumerable.Range(0, boxes.Rows.Count).Select(r => string.Join("; ", Enumerable.Range(0, labels.Rows[r].Count).Select(i =>
            $"{labels.KeyValues![int.Parse(labels.Rows[r][i]) - 1]} {scores.Rows[r][i]} {string.Join(" ", boxes.Rows[r].Skip(4 * i).Take(4))}"))).ToList();
    }

    private static string Format(float x) => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The same text from a typed prediction, through its <see cref="DetectionPrediction.Detections"/> records.</summary>
    private static string Text(DetectionPrediction p)
        => string.Join("; ", p.Detections.Select(d => $"{d.Label} {Format(d.Score)} {Format(d.XMin)} {Format(d.YMin)} {Format(d.XMax)} {Format(d.YMax)}"));

    [TestMethod]
    public void TypedDetectionsEqualTransformOnTrainedAndReloadedModels()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Ssd);
        var images = Images();
        var ml = new MLContext(1);
        var data = View(ml, images);
        var expected = Expected(detector.Transform(data));
        Assert.IsGreaterThan(images.Length, expected.Sum(e => e.Split(';', StringSplitOptions.RemoveEmptyEntries).Length), "too few detections for the comparison to say much");

        using var folder = new TempFolder();
        string zip = folder["model.zip"];
        ml.Model.Save(detector, data.Schema, zip);
        var reloadedMl = new MLContext(2);
        DetectionTransformer.RegisterComponents(reloadedMl);
        var models = new (string Name, ITransformer Model)[]
        {
            ("trained", detector),
            ("mlContext.Model.Load", reloadedMl.Model.Load(zip, out _)),
            ("DetectionTransformer.Load", DetectionTransformer.Load(reloadedMl, zip)),
        };
        foreach (var (name, model) in models)
        {
            var engine = ml.Model.CreatePredictionEngine<ImageInput, DetectionPrediction>(model);
            CollectionAssert.AreEqual(expected, images.Select(p => Text(engine.Predict(new ImageInput { ImagePath = p }))).ToList(), $"{name}: PredictionEngine");
            CollectionAssert.AreEqual(expected, ml.Data.CreateEnumerable<DetectionPrediction>(model.Transform(data), reuseRowObject: false).Select(Text).ToList(),
                $"{name}: CreateEnumerable");
        }
        CollectionAssert.AreEqual(expected, images.Select(p => Text(detector.Detect(p))).ToList(), "Detect");
        CollectionAssert.AreEqual(expected, ml.Data.CreateEnumerable<DetectionPrediction>(detector.ScoreBatched(data, batchSize: 5), reuseRowObject: false).Select(Text).ToList(),
            "ScoreBatched through CreateEnumerable");

        // The arrays themselves, as ML.NET's users read them, and a derived class that also reads the image path.
        var first = detector.Detect(images[0]);
        Assert.HasCount(4 * first.PredictedLabels.Length, first.PredictedBoxes);
        Assert.HasCount(first.PredictedLabels.Length, first.Scores);
        Assert.IsTrue(first.PredictedLabels.All(l => detector.ClassNames.Contains(l)), string.Join(", ", first.PredictedLabels));
        var withPaths = ml.Data.CreateEnumerable<ScoredImage>(detector.Transform(data), reuseRowObject: false).ToList();
        CollectionAssert.AreEqual(images, withPaths.Select(r => r.ImagePath).ToList());
        CollectionAssert.AreEqual(expected, withPaths.Select(Text).ToList(), "derived class");
    }

    /// <summary>A user's row: the prediction and the image it came from.</summary>
    public sealed class ScoredImage : DetectionPrediction
    {
        public string ImagePath { get; set; } = "";
    }

    [TestMethod]
    public void EightThreadsGetWhatOneThreadGets()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Ssd);
        var images = Images();
        var ml = new MLContext(1);
        var data = View(ml, images);
        var expected = Expected(detector.Transform(data));
        const int rounds = 3;

        // Each thread its own PredictionEngine, all on one transformer, every image several times, all threads at once.
        var fromEngines = new List<string>[Threads];
        var fromTransform = new List<string>[Threads];
        var fromDetect = new List<string>[Threads];
        using var start = new Barrier(Threads);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            bool started = false;
            try
            {
                var engine = ml.Model.CreatePredictionEngine<ImageInput, DetectionPrediction>(detector);
                started = true;
                start.SignalAndWait();
                // Offset per thread, so that different threads score different images at the same moment.
                var order = Enumerable.Range(0, rounds * images.Length).Select(i => (i + 5 * t) % images.Length).ToList();
                var results = order.Select(i => (Image: i, Text: Text(engine.Predict(new ImageInput { ImagePath = images[i] })))).ToList();
                if (results.GroupBy(r => r.Image).Any(g => g.Select(r => r.Text).Distinct().Count() != 1))
                    failures.Add($"thread {t}: an engine's repeated predictions of one image differ");
                fromEngines[t] = results.GroupBy(r => r.Image).OrderBy(g => g.Key).Select(g => g.First().Text).ToList();
                fromTransform[t] = Expected(detector.Transform(View(new MLContext(t), images)));
                fromDetect[t] = images.Select(p => Text(detector.Detect(p))).ToList();
            }
            catch (Exception ex)
            {
                failures.Add($"thread {t}: {ex}");
                if (!started) start.RemoveParticipant();
            }
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.IsEmpty(failures, string.Join("\n", failures));
        for (int t = 0; t < Threads; t++)
        {
            CollectionAssert.AreEqual(expected, fromEngines[t], $"thread {t}: own PredictionEngine");
            CollectionAssert.AreEqual(expected, fromTransform[t], $"thread {t}: Transform");
            CollectionAssert.AreEqual(expected, fromDetect[t], $"thread {t}: Detect");
        }
    }

    [TestMethod]
    public void TypedMasksEqualTransformFromOneAndEightThreads()
    {
        var segmenter = TinyTrainedSegmenter.Get();
        using var folder = new TempFolder();
        var images = SegmentationSaveLoadTests.Images(folder);
        var ml = new MLContext(1);
        var data = View(ml, images);
        var columns = ScoredColumns.Read(segmenter.Transform(data));
        var expected = Enumerable.Range(0, images.Length).Select(r =>
            $"{columns.Single(c => c.Name == SegmentationColumns.PredictedMaskWidth).Rows[r].Single()}x{columns.Single(c => c.Name == SegmentationColumns.PredictedMaskHeight).Rows[r].Single()}:"
            + string.Join(",", columns.Single(c => c.Name == SegmentationColumns.PredictedMask).Rows[r])).ToList();
        Assert.StartsWith("80x48:", expected[^1], "the stretched image keeps its size");
        static string Text(SegmentationPrediction p)
        {
            Assert.HasCount(p.Width * p.Height, p.PredictedMask, "mask length is Width × Height");
            return $"{p.Width}x{p.Height}:{string.Join(",", p.PredictedMask)}";
        }

        string zip = folder["model.zip"];
        ml.Model.Save(segmenter, data.Schema, zip);
        var reloadedMl = new MLContext(2);
        SegmentationTransformer.RegisterComponents(reloadedMl);
        foreach (var (name, model) in new (string, ITransformer)[] { ("trained", segmenter), ("mlContext.Model.Load", reloadedMl.Model.Load(zip, out _)) })
        {
            var engine = ml.Model.CreatePredictionEngine<ImageInput, SegmentationPrediction>(model);
            CollectionAssert.AreEqual(expected, images.Select(p => Text(engine.Predict(new ImageInput { ImagePath = p }))).ToList(), $"{name}: PredictionEngine");
            CollectionAssert.AreEqual(expected, ml.Data.CreateEnumerable<SegmentationPrediction>(model.Transform(data), reuseRowObject: false).Select(Text).ToList(), $"{name}: CreateEnumerable");
        }
        var stretched = segmenter.Segment(images[^1]);
        Assert.AreEqual(stretched.PredictedMask[47 * 80 + 79], stretched.ClassAt(79, 47));

        var fromThreads = new List<string>[Threads];
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<ImageInput, SegmentationPrediction>(segmenter);
            fromThreads[t] = images.Select((p, i) => t % 2 == 0 ? Text(engine.Predict(new ImageInput { ImagePath = p })) : Text(segmenter.Segment(p))).ToList();
        });
        for (int t = 0; t < Threads; t++)
            CollectionAssert.AreEqual(expected, fromThreads[t], $"thread {t}");
    }

    [TestMethod]
    public void TheHelpersNameAMissingImageAndAColumnOfAnotherName()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        string missing = Path.Combine(Path.GetTempPath(), "mlnetext-no-such-image.png");
        var ex = Assert.ThrowsExactly<FileNotFoundException>(() => detector.Detect(missing));
        Assert.AreEqual($"The image '{missing}' does not exist.", ex.Message);

        // A detector built for another image column: the helper maps ImageInput onto it, before and after Save/Load.
        var ml = new MLContext(1);
        var renamed = DetectionTransformer.Create(ml, detector.OnnxModel, "Picture");
        Assert.AreEqual("Picture", renamed.ImagePathColumn);
        var image = TinyTrainedDetector.Images(1)[0];
        string expected = Text(detector.Detect(image));
        Assert.AreEqual(expected, Text(renamed.Detect(image)));
        using var folder = new TempFolder();
        var data = ml.Data.LoadFromEnumerable(new[] { new PictureRow { Picture = image } });
        ml.Model.Save(renamed, data.Schema, folder["model.zip"]);
        var loaded = DetectionTransformer.Load(ml, folder["model.zip"]);
        Assert.AreEqual("Picture", loaded.ImagePathColumn, "Load finds the column the saved chain reads");
        Assert.AreEqual(expected, Text(loaded.Detect(image)));
        Assert.AreEqual(JsonSerializer.Serialize(ScoredColumns.Read(renamed.Transform(data))), JsonSerializer.Serialize(ScoredColumns.Read(loaded.Transform(data))));
    }

    private sealed class PictureRow { public string Picture = ""; }
}
