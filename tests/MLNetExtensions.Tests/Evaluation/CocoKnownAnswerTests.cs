using Microsoft.ML;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

[TestClass]
public sealed class CocoKnownAnswerTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "coco-val2014-100");

    [TestMethod]
    public void ReproducesPycocotoolsOnCocoVal2014First100Images()
    {
        var ml = new MLContext(seed: 1);
        string annotations = Path.Combine(Folder, "instances_val2014_100.json");
        var groundTruth = ml.Data.LoadFromCocoJson(annotations, imagesFolder: null);
        var results = ml.Data.LoadFromCocoResultsJson(Path.Combine(Folder, "instances_val2014_fakebbox100_results.json"), annotations);
        var scored = ml.Data.JoinOnImageId(groundTruth, results);

        var metrics = ml.Detection().Evaluate(scored);

        // pycocotools COCOeval (iouType 'bbox', default parameters) on the same two files; see README.md there.
        double[] expected =
        [
            0.5045806987249628, 0.6969727247299577, 0.5729816669904824, 0.5856257209410443,
            0.5193996948036719, 0.5013978986347466, 0.38681277964578054, 0.5936795762842003,
            0.595352982877607, 0.6398109626113442, 0.5664205978994309, 0.5642905982905982,
        ];
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], metrics.Coco.Stats[i], 1e-6, $"stat {i}: {metrics.Coco.Stats[i]:R} vs {expected[i]:R} diff {metrics.Coco.Stats[i]-expected[i]:E2}");
        Assert.AreEqual(expected[0], metrics.Coco.AveragePrecision, 1e-6);
        Assert.AreEqual(expected[11], metrics.Coco.AverageRecallLarge, 1e-6);
        // Per-class AP (precision[:, :, k, all, 100] > -1, averaged), from the same pycocotools run.
        Assert.AreEqual("person", metrics.ClassNames[0]);
        Assert.AreEqual(0.5326060142444453, metrics.Coco.PerClassAveragePrecision[0], 1e-6);
        Assert.AreEqual(0.4400990099009901, metrics.Coco.PerClassAveragePrecision[1], 1e-6);
        Assert.AreEqual(-1, metrics.Coco.PerClassAveragePrecision[10]);   // fire hydrant: no ground truth here
        Assert.AreEqual(0.8999999999999999, metrics.Coco.PerClassAveragePrecision[28], 1e-6);
        Assert.AreEqual(0.6475247524752475, metrics.Coco.PerClassAveragePrecision[79], 1e-6);
        // VOC on the same data: py-faster-rcnn's voc_eval.py matching loop and voc_ap run on these files in memory
        // (boxes rounded to float as stored here, crowd boxes as ordinary ones, equal scores ranked stably by image id).
        Assert.AreEqual(0.6866513782678071, metrics.Voc2007.MeanAveragePrecision, 1e-9);
        Assert.AreEqual(0.6954887384927388, metrics.Voc.MeanAveragePrecision, 1e-9);
        Assert.AreEqual(0.7245590230664859, metrics.Voc2007.PerClassAveragePrecision[0], 1e-9);
        Assert.AreEqual(0.7736593724087893, metrics.Voc.PerClassAveragePrecision[0], 1e-9);
        Assert.AreEqual(100, metrics.ImageCount);
        Assert.AreEqual(839, metrics.GroundTruthCounts.Sum());
        Assert.AreEqual(734, metrics.DetectionCounts.Sum());
        Console.WriteLine(metrics);
    }
}
