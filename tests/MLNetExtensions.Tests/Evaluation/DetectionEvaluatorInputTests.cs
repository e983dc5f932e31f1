using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>What the detection evaluator accepts and how it reports what it does not.</summary>
[TestClass]
public sealed class DetectionEvaluatorInputTests
{
    private static readonly string[] Classes = ["cat", "dog"];

    private static ScoredImage Good(long id = 1) => new()
    {
        ImageId = id, Boxes = [0, 0, 10, 10], Labels = [1], Difficult = [false], IsCrowd = [false], Areas = [100],
        PredictedBoxes = [0, 0, 10, 10], PredictedLabels = [1], Scores = [0.9f],
    };

    [TestMethod]
    public void MissingColumnsAreNamed()
    {
        var ml = new MLContext(1);
        var data = ScoredDetections.Without(ml, ScoredDetections.Create(ml, Classes, [Good()]), DetectionColumns.Scores);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data));
        StringAssert.StartsWith(e.Message, "Column 'Scores' not found. Columns: ");
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { BoxesColumnName = "GtBoxes" }));
        StringAssert.StartsWith(e.Message, "Column 'GtBoxes' not found.");
    }

    [TestMethod]
    public void WronglyTypedColumnsAreNamedWithTheirType()
    {
        var ml = new MLContext(1);
        var data = ScoredDetections.Create(ml, Classes, [Good()]);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { ScoresColumnName = "IsCrowd" }));
        Assert.AreEqual("Column 'IsCrowd' (detection scores) must be a vector of Single, but is Vector<Boolean>.", e.Message);
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { PredictedLabelsColumnName = "Scores" }));
        StringAssert.StartsWith(e.Message, "Column 'Scores' (predicted labels) must be a vector of UInt32 keys");
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { AreasColumnName = "Labels" }));
        StringAssert.StartsWith(e.Message, "Column 'Labels' (object areas) must be a vector of Single");
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(data, new DetectionEvaluatorOptions { ImageIdColumnName = "Scores" }));
        StringAssert.StartsWith(e.Message, "Column 'Scores' (image ids) must be Int64");
    }

    [TestMethod]
    public void PredictionsMustUseTheGroundTruthClasses()
    {
        var ml = new MLContext(1);
        var data = ScoredDetections.Create(ml, Classes, [Good()]);
        var renamed = ml.Transforms.Conversion.MapKeyToValue("Names", DetectionColumns.PredictedLabels)
            .Append(ml.Transforms.Conversion.MapValueToKey("Other", "Names", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue,
                keyData: ml.Data.LoadFromEnumerable(new[] { new KeyRow { Names = "ant" }, new KeyRow { Names = "cat" } })))
            .Fit(data).Transform(data);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Detection().Evaluate(renamed, new DetectionEvaluatorOptions { PredictedLabelsColumnName = "Other" }));
        Assert.AreEqual("Class 1 is 'ant' in 'Other' but 'cat' in 'Labels'; predictions and ground truth must use the same class list in the same order.", e.Message);
    }

    private sealed class KeyRow { public string Names = ""; }

    [TestMethod]
    public void RowsWhoseCountsDisagreeAreNamed()
    {
        var ml = new MLContext(1);
        var bad = Good(42);
        bad.PredictedBoxes = [0, 0, 10];
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [Good(), bad])));
        Assert.AreEqual("Row 1 (image id 42): 'PredictedBoxes' holds 3 values but should hold 4 (4 per label in 'PredictedLabels').", e.Message);

        var badScores = Good(5);
        badScores.Scores = [0.1f, 0.2f];
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [badScores])));
        Assert.AreEqual("Row 0 (image id 5): 'Scores' holds 2 values but should hold 1 (one per label in 'PredictedLabels').", e.Message);

        var missingKey = Good(6);
        missingKey.Labels = [0];
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [missingKey])));
        Assert.AreEqual("Row 0 (image id 6): label 0 in 'Labels' is key 0, outside the 2 classes (key 0 means a missing value). Every box needs a known class.", e.Message);

        var nan = Good(7);
        nan.Scores = [float.NaN];
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [nan])));
        Assert.AreEqual("Row 0 (image id 7): score 0 in 'Scores' is NaN; scores must be numbers to be ranked.", e.Message);

        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [Good(3), Good(3)])));
        Assert.AreEqual("Rows 0 and 1 both have image id 3 in 'ImageId'; each image must be one row. Merge the rows, or set ImageIdColumnName = null.", e.Message);
    }

    [TestMethod]
    public void OptionalColumnsMayBeAbsentAndOptionsAreValidated()
    {
        var ml = new MLContext(1);
        var data = ScoredDetections.Without(ml, ScoredDetections.Create(ml, Classes, [Good(), Good(2)]),
            DetectionColumns.Difficult, "IsCrowd", "Areas", "ImageId");
        var m = ml.Detection().Evaluate(data);
        Assert.AreEqual(2, m.ImageCount);
        Assert.AreEqual(1.0, m.Voc.MeanAveragePrecision, 1e-12);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionEvaluatorOptions { VocIouThreshold = 1 });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionEvaluatorOptions { VocIouThreshold = double.NaN });
        Assert.ThrowsExactly<ArgumentException>(() => new DetectionEvaluatorOptions { ScoresColumnName = " " });
    }

    [TestMethod]
    public void ToStringIsATableOfTheCocoSummaryAndPerClassAp()
    {
        var ml = new MLContext(1);
        var m = ml.Detection().Evaluate(ScoredDetections.Create(ml, Classes, [Good()]));
        string text = m.ToString();
        StringAssert.Contains(text, "Detection metrics: 1 images, 2 classes, 1 ground-truth boxes, 1 detections");
        StringAssert.Contains(text, " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] =  1.000");
        StringAssert.Contains(text, " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000");
        StringAssert.Contains(text, "cat         1       1    1.0000    1.0000    1.0000");
        StringAssert.Contains(text, "dog         0       0         -         -         -");
    }
}
