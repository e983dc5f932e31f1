using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Tests.Scoring;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>
/// <c>SaveAsCocoResults</c> writes what the COCO results reader reads back to the same detections, so evaluating the
/// file gives the metrics of the scored view itself.
/// </summary>
[TestClass]
public sealed class SaveAsCocoResultsTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "coco-val2014-100");
    private static readonly string Annotations = Path.Combine(Folder, "instances_val2014_100.json");

    [TestMethod]
    public void ARoundTripThroughTheReaderGivesTheSameMetrics()
    {
        // COCO val2014's category ids run 1..90 with gaps, so the ids must come from the instances file.
        var ml = new MLContext(1);
        var groundTruth = ml.Data.LoadFromCocoJson(Annotations, imagesFolder: null);
        var scored = ml.Data.JoinOnImageId(groundTruth, ml.Data.LoadFromCocoResultsJson(Path.Combine(Folder, "instances_val2014_fakebbox100_results.json"), Annotations));
        var direct = ml.Detection().Evaluate(scored);

        using var scratch = new ScratchFolder();
        string written = scratch.Combine("results.json");
        int count = ml.Data.SaveAsCocoResults(scored, written, Annotations);
        Assert.IsFalse(File.Exists(written + ".tmp"));
        var reread = ml.Data.JoinOnImageId(groundTruth, ml.Data.LoadFromCocoResultsJson(written, Annotations));
        var again = ml.Detection().Evaluate(reread);

        Assert.AreEqual(direct.DetectionCounts.Sum(), count, "one entry per detection");
        CollectionAssert.AreEqual(direct.Coco.Stats.ToArray(), again.Coco.Stats.ToArray(), "the same COCO figures, exactly");
        CollectionAssert.AreEqual(direct.Voc.PerClassAveragePrecision.ToArray(), again.Voc.PerClassAveragePrecision.ToArray(), "the same VOC APs, exactly");
        AssertSameDetections(scored, reread);

        using var json = JsonDocument.Parse(File.ReadAllText(written));
        var first = json.RootElement[0];
        CollectionAssert.AreEquivalent(new[] { "image_id", "category_id", "bbox", "score" }, first.EnumerateObject().Select(p => p.Name).ToArray());
        var categoryIds = json.RootElement.EnumerateArray().Select(e => e.GetProperty("category_id").GetInt64()).Distinct().ToArray();
        Assert.IsTrue(categoryIds.Any(id => id > direct.ClassNames.Count), "COCO's own category ids (above the class count), not class keys");
    }

    private static void AssertSameDetections(IDataView expected, IDataView actual)
    {
        var a = Read(expected);
        var b = Read(actual);
        Assert.HasCount(a.Count, b);
        for (int i = 0; i < a.Count; i++)
        {
            CollectionAssert.AreEqual(a[i].Boxes, b[i].Boxes, $"row {i}: boxes, bit for bit");
            CollectionAssert.AreEqual(a[i].Labels, b[i].Labels, $"row {i}: labels");
            CollectionAssert.AreEqual(a[i].Scores, b[i].Scores, $"row {i}: scores");
        }
    }

    private static List<(float[] Boxes, uint[] Labels, float[] Scores)> Read(IDataView data)
    {
        var rows = new List<(float[], uint[], float[])>();
        using var cursor = data.GetRowCursor(data.Schema);
        var boxes = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(data.Schema[DetectionColumns.PredictedBoxes]);
        var labels = cursor.GetGetter<Microsoft.ML.Data.VBuffer<uint>>(data.Schema[DetectionColumns.PredictedLabels]);
        var scores = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(data.Schema[DetectionColumns.Scores]);
        Microsoft.ML.Data.VBuffer<float> b = default, s = default;
        Microsoft.ML.Data.VBuffer<uint> l = default;
        while (cursor.MoveNext())
        {
            boxes(ref b); labels(ref l); scores(ref s);
            rows.Add((b.DenseValues().ToArray(), l.DenseValues().ToArray(), s.DenseValues().ToArray()));
        }
        return rows;
    }

    [TestMethod]
    public void WithoutAnInstancesFileIdsAreRowsAndClassKeys()
    {
        // A detector's own output (no ImageId column): image id = row, category id = class key.
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Ssd);
        var ml = new MLContext(1);
        var scored = detector.Transform(TinyTrainedDetector.ImageView(ml, TinyTrainedDetector.Images(4)));
        using var scratch = new ScratchFolder();
        string written = scratch.Combine("results.json");
        int count = ml.Data.SaveAsCocoResults(scored, written);
        var rows = Read(scored);
        Assert.AreEqual(rows.Sum(r => r.Labels.Length), count);
        Assert.IsGreaterThan(0, count);
        using var json = JsonDocument.Parse(File.ReadAllText(written));
        int k = 0;
        for (int row = 0; row < rows.Count; row++)
            for (int d = 0; d < rows[row].Labels.Length; d++, k++)
            {
                var e = json.RootElement[k];
                Assert.AreEqual((long)row, e.GetProperty("image_id").GetInt64());
                Assert.AreEqual((long)rows[row].Labels[d], e.GetProperty("category_id").GetInt64());
                var bbox = e.GetProperty("bbox").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                var box = rows[row].Boxes;
                Assert.AreEqual(box[4 * d], (float)bbox[0]);
                Assert.AreEqual(box[4 * d + 1], (float)bbox[1]);
                Assert.AreEqual(box[4 * d + 2], (float)(bbox[0] + bbox[2]), "x + width = xmax");
                Assert.AreEqual(box[4 * d + 3], (float)(bbox[1] + bbox[3]), "y + height = ymax");
                Assert.AreEqual(rows[row].Scores[d], (float)e.GetProperty("score").GetDouble());
            }
        Assert.AreEqual(k, json.RootElement.GetArrayLength());
    }

    [TestMethod]
    public void ClassesThatAreNotTheFilesCategoriesAreRejected()
    {
        var ml = new MLContext(1);
        var scored = ScoredDetections.Create(ml, ["cat", "dog"], [new ScoredImage { ImageId = 1, PredictedBoxes = [0, 0, 1, 1], PredictedLabels = [1], Scores = [0.5f] }]);
        using var scratch = new ScratchFolder();
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Data.SaveAsCocoResults(scored, scratch.Combine("r.json"), Annotations));
        StringAssert.StartsWith(e.Message, $"The predictions' classes (cat, dog) are not the categories of '{Annotations}' (person, bicycle,");
        StringAssert.EndsWith(e.Message, "in the same order; score data loaded with LoadFromCocoJson from that file.");
        Assert.IsFalse(File.Exists(scratch.Combine("r.json.tmp")));
        var missing = ScoredDetections.Without(ml, scored, DetectionColumns.Scores);
        var e2 = Assert.ThrowsExactly<ArgumentException>(() => ml.Data.SaveAsCocoResults(missing, scratch.Combine("r.json")));
        StringAssert.Contains(e2.Message, "Scores");
    }
}
