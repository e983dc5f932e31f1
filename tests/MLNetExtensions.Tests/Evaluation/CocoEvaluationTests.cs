using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>
/// Small COCO cases, each aimed at one rule of pycocotools' COCOeval. The expected numbers were worked out by hand
/// (in the comments) and agree with pycocotools' cocoeval.py run on the same JSON (its bbox IoU from maskApi.c
/// transcribed to Python, as its C extension was not available); the stray 1e-16s come from its
/// tp / (tp + fp + np.spacing(1)).
/// </summary>
[TestClass]
public sealed class CocoEvaluationTests
{
    private const double One = 0.9999999999999998; // mean over thresholds of tp / (tp + np.spacing(1)) = 1 - 2.2e-16

    /// <summary>A ground-truth annotation: image, category, bbox [x, y, w, h], iscrowd, area (null: w·h).</summary>
    private sealed record Gt(long Image, long Category, double[] Box, int Crowd = 0, double? Area = null);

    /// <summary>A detection: image, category, bbox [x, y, w, h], score.</summary>
    private sealed record Dt(long Image, long Category, double[] Box, double Score);

    private static double[] Stats(long[] images, Gt[] gts, Dt[] dts)
    {
        using var folder = new ScratchFolder();
        var gtJson = new
        {
            images = images.Select(i => new { id = i, file_name = $"{i}.jpg", width = 200, height = 200 }),
            annotations = gts.Select((g, k) => new { id = k + 1, image_id = g.Image, category_id = g.Category, bbox = g.Box, iscrowd = g.Crowd, area = g.Area ?? g.Box[2] * g.Box[3] }),
            categories = new[] { new { id = 1, name = "cat" }, new { id = 3, name = "dog" } },
        };
        var resJson = dts.Select(d => new { image_id = d.Image, category_id = d.Category, bbox = d.Box, score = d.Score });
        string gtPath = folder.File("gt.json", JsonSerializer.Serialize(gtJson));
        string resPath = folder.File("res.json", JsonSerializer.Serialize(resJson));
        var ml = new MLContext(1);
        var scored = ml.Data.JoinOnImageId(ml.Data.LoadFromCocoJson(gtPath), ml.Data.LoadFromCocoResultsJson(resPath, gtPath));
        return ml.Detection().Evaluate(scored).Coco.Stats.ToArray();
    }

    private static void AssertStats(double[] expected, double[] actual)
    {
        for (int i = 0; i < 12; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-12, $"stat {i}: expected {expected[i]}, got {actual[i]}");
    }

    [TestMethod]
    public void APerfectDetectionOfASmallObject()
    {
        // 10×10 box: area 100, small. Medium and large have no ground truth: -1.
        var s = Stats([1], [new Gt(1, 1, [0, 0, 10, 10])], [new Dt(1, 1, [0, 0, 10, 10], 0.9)]);
        AssertStats([One, 0.9999999999999999, 0.9999999999999999, One, -1, -1, 1, 1, 1, 1, -1, -1], s);
    }

    [TestMethod]
    public void IouOfExactlyAThresholdMatchesAtIt()
    {
        // IoU 60/100 = 0.6 matches at 0.50, 0.55, 0.60 (iou >= t) and not above: AP = 3/10, AP75 = 0, AR = 0.3.
        var s = Stats([1], [new Gt(1, 1, [0, 0, 10, 10])], [new Dt(1, 1, [0, 0, 10, 6], 0.9)]);
        AssertStats([0.29999999999999993, 0.9999999999999999, 0, 0.29999999999999993, -1, -1, 0.3, 0.3, 0.3, 0.3, -1, -1], s);
    }

    [TestMethod]
    public void DetectionsInsideACrowdAreIgnoredAndTheCrowdCanBeMatchedTwice()
    {
        // Crowd [20,0,40,20]: the 0.9 and 0.8 detections lie inside it (IoU = intersection / detection area = 1),
        // so both match it and are ignored; the 0.7 detection hits the one real box. AP = 1; AR1 = 0, as the one
        // detection allowed per image is an ignored one. Treated as ordinary boxes, they would be false positives.
        var s = Stats([1],
            [new Gt(1, 1, [0, 0, 10, 10]), new Gt(1, 1, [20, 0, 40, 20], Crowd: 1)],
            [new Dt(1, 1, [25, 5, 10, 10], 0.9), new Dt(1, 1, [30, 5, 10, 10], 0.8), new Dt(1, 1, [0, 0, 10, 10], 0.7)]);
        AssertStats([One, 0.9999999999999999, 0.9999999999999999, One, -1, -1, 0, 1, 1, 1, -1, -1], s);
    }

    [TestMethod]
    public void AreaRangesUseTheAnnotationArea()
    {
        // The box is 10×10 (small) but its annotated area is 2000 (medium): small has nothing (-1), medium has it.
        var s = Stats([1], [new Gt(1, 1, [0, 0, 10, 10], Area: 2000)], [new Dt(1, 1, [0, 0, 10, 10], 0.9)]);
        AssertStats([One, 0.9999999999999999, 0.9999999999999999, -1, One, -1, 1, 1, 1, -1, 1, -1], s);
    }

    [TestMethod]
    public void RecallCountsOnlyTheAllowedDetectionsPerImage()
    {
        // Two objects, two exact detections: AR1 sees only the first (1/2), AR10 both.
        var s = Stats([1],
            [new Gt(1, 1, [0, 0, 10, 10]), new Gt(1, 1, [50, 50, 10, 10])],
            [new Dt(1, 1, [0, 0, 10, 10], 0.9), new Dt(1, 1, [50, 50, 10, 10], 0.8)]);
        AssertStats([1, 1, 1, 1, -1, -1, 0.5, 1, 1, 1, -1, -1], s);
    }

    [TestMethod]
    public void EqualScoresAreRankedInAscendingImageIdOrder()
    {
        // Image 2 comes first in the file and holds the hit; image 1 holds a false positive of the same score.
        // pycocotools ranks image 1's first (ids ascending, stable sort): precision 0, then 1/2 → AP 1/2.
        // File order would rank the hit first and give AP 1.
        var s = Stats([2, 1], [new Gt(2, 1, [0, 0, 10, 10])],
            [new Dt(2, 1, [0, 0, 10, 10], 0.5), new Dt(1, 1, [0, 0, 10, 10], 0.5)]);
        AssertStats([0.5, 0.5, 0.5, 0.5, -1, -1, 1, 1, 1, 1, -1, -1], s);
    }

    [TestMethod]
    public void IgnoredGroundTruthIsTriedLast()
    {
        // The crowd [0,0,20,20] comes first in the file and overlaps the detection fully (IoU 1); the real box
        // [0,0,10,10] has IoU 0.8. Sorted ignore-last, the real box is tried first and wins at thresholds up to
        // 0.80 (7 of 10); above, only the crowd matches and the detection is ignored. AP = AR = 0.7.
        var s = Stats([1],
            [new Gt(1, 1, [0, 0, 20, 20], Crowd: 1), new Gt(1, 1, [0, 0, 10, 10])],
            [new Dt(1, 1, [0, 0, 10, 8], 0.9)]);
        AssertStats([0.6999999999999998, 0.9999999999999999, 0.9999999999999999, 0.6999999999999998, -1, -1, 0.7, 0.7, 0.7, 0.7, -1, -1], s);
    }

    [TestMethod]
    public void ClassesWithoutGroundTruthAreMinusOneAndLeftOutOfTheMean()
    {
        // cat is found perfectly; dog has only a detection (no ground truth): -1, not 0, and not in AP.
        var ml = new MLContext(1);
        var data = ScoredDetections.Create(ml, ["cat", "dog"],
        [
            new ScoredImage { ImageId = 7, Boxes = [0, 0, 10, 10], Labels = [1], PredictedBoxes = [0, 0, 10, 10, 50, 50, 60, 60], PredictedLabels = [1, 2], Scores = [0.9f, 0.95f] },
        ]);
        var m = ml.Detection().Evaluate(data);
        Assert.AreEqual(One, m.Coco.PerClassAveragePrecision[0], 1e-15);
        Assert.AreEqual(-1, m.Coco.PerClassAveragePrecision[1]);
        Assert.AreEqual(One, m.Coco.AveragePrecision, 1e-15);
    }
}
