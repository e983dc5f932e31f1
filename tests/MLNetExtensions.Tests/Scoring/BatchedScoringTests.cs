using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Scoring;

/// <summary><c>ScoreBatched</c> gives what the row-by-row ML.NET chain gives: same columns, types, key values and values.</summary>
[TestClass]
public sealed class BatchedScoringTests
{
    [TestMethod]
    [DataRow(DetectorArchitecture.Ssd, 4)]
    [DataRow(DetectorArchitecture.Grid, 3)]
    public void BatchedScoringEqualsThePipeline(DetectorArchitecture architecture, int batchSize)
    {
        var detector = TinyTrainedDetector.Get(architecture);
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, TinyTrainedDetector.Images(10));   // 10 rows: full batches and a partial one
        var expected = ScoredColumns.Read(detector.Transform(data));
        var batched = detector.ScoreBatched(data, batchSize);
        var actual = ScoredColumns.Read(batched);

        CollectionAssert.AreEqual(expected.Select(c => (c.Name, c.Type)).ToArray(), actual.Select(c => (c.Name, c.Type)).ToArray());
        CollectionAssert.AreEqual(detector.ClassNames.ToArray(), actual.Single(c => c.Name == DetectionColumns.PredictedLabels).KeyValues);
        int detections = 0;
        foreach (var e in expected)
        {
            var a = actual.Single(c => c.Name == e.Name);
            CollectionAssert.AreEqual(e.KeyValues, a.KeyValues, $"key values of {e.Name}");
            for (int r = 0; r < e.Rows.Count; r++)
            {
                Assert.HasCount(e.Rows[r].Count, a.Rows[r], $"column {e.Name}, row {r}: number of values");
                if (e.Name is DetectionColumns.PredictedBoxes or DetectionColumns.Scores)
                {
                    for (int k = 0; k < e.Rows[r].Count; k++)
                        Assert.AreEqual(float.Parse(e.Rows[r][k]), float.Parse(a.Rows[r][k]), 1e-5f, $"column {e.Name}, row {r}, value {k}");
                }
                else
                    CollectionAssert.AreEqual(e.Rows[r], a.Rows[r], $"column {e.Name}, row {r}");
                if (e.Name == DetectionColumns.Scores) detections += e.Rows[r].Count;
            }
        }
        Assert.IsGreaterThan(0, detections, "the detector found nothing, so the comparison proves little");
    }

    [TestMethod]
    public void AMissingImageColumnIsNamed()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = "x.png" } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => detector.ScoreBatched(data));
        StringAssert.Contains(ex.Message, "ImagePath");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => detector.ScoreBatched(TinyTrainedDetector.ImageView(ml, []), batchSize: 0));
    }

    [TestMethod]
    public void AMissingImageFailsAsInThePipeline()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        var ml = new MLContext(1);
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-image-{Guid.NewGuid():N}.png");
        var data = TinyTrainedDetector.ImageView(ml, [.. TinyTrainedDetector.Images(5), missing]);
        var expected = Assert.Throws<Exception>(() => ScoredColumns.Read(detector.Transform(data)));
        var actual = Assert.Throws<Exception>(() => detector.ScoreBatched(data, batchSize: 2));
        Assert.AreEqual(expected.GetType(), actual.GetType());
        Assert.AreEqual(expected.Message, actual.Message);
        // ML.NET wraps the reader's exception; the innermost one names the file.
        Assert.AreEqual(expected.GetBaseException().Message, actual.GetBaseException().Message);
        StringAssert.Contains(actual.GetBaseException().Message, missing);
    }
}
