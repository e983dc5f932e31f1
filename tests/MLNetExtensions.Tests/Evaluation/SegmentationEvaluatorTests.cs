using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Tests.Evaluation;

[TestClass]
public sealed class SegmentationEvaluatorTests
{
    // Ground truth and prediction of one 4×4 image; 255 marks the three ignored pixels.
    private static readonly byte[] Truth =
    [
        0, 0, 1, 1,
        0, 0, 1, 1,
        2, 2, 255, 255,
        2, 2, 1, 255,
    ];

    private static readonly byte[] Prediction =
    [
        0, 1, 1, 1,
        0, 0, 1, 0,
        2, 1, 0, 2,
        2, 2, 1, 1,
    ];

    private sealed class MaskRow
    {
        public string MaskPath = "";
        [VectorType] public byte[] Truth = [];
        [VectorType] public byte[] PredictedMask = [];
    }

    private static IDataView Rows(MLContext ml, params (string Path, byte[] Truth, byte[] Predicted)[] rows)
        => ml.Data.LoadFromEnumerable(rows.Select(r => new MaskRow { MaskPath = r.Path, Truth = r.Truth, PredictedMask = r.Predicted }).ToList());

    private static void AssertHandExample(SegmentationMetrics m)
    {
        // Valid pixels, by hand: truth 0 → predicted 0,1,0,0; truth 1 → 1,1,1,0,1; truth 2 → 2,1,2,2.
        long[][] expected = [[3, 1, 0], [1, 4, 0], [0, 1, 3]];
        Assert.AreEqual(3, m.ConfusionMatrix.Count);
        for (int t = 0; t < 3; t++)
            CollectionAssert.AreEqual(expected[t], m.ConfusionMatrix[t].ToArray(), $"truth row {t}");
        Assert.AreEqual(13, m.PixelCount);
        Assert.AreEqual(10.0 / 13, m.PixelAccuracy, 1e-15);
        Assert.AreEqual(3.0 / 5, m.PerClassIoU[0], 1e-15);  // 3 / (4 + 4 - 3)
        Assert.AreEqual(4.0 / 7, m.PerClassIoU[1], 1e-15);  // 4 / (5 + 6 - 4)
        Assert.AreEqual(3.0 / 4, m.PerClassIoU[2], 1e-15);  // 3 / (4 + 3 - 3)
        Assert.AreEqual((3.0 / 5 + 4.0 / 7 + 3.0 / 4) / 3, m.MeanIoU, 1e-15);
        Assert.AreEqual(3.0 / 4, m.PerClassAccuracy[0], 1e-15);
        Assert.AreEqual(4.0 / 5, m.PerClassAccuracy[1], 1e-15);
        Assert.AreEqual(3.0 / 4, m.PerClassAccuracy[2], 1e-15);
    }

    [TestMethod]
    public void HandMadeFourByFourWithIgnoredPixelsFromAMaskColumn()
    {
        var ml = new MLContext(1);
        var metrics = ml.Segmentation().Evaluate(Rows(ml, ("unused.png", Truth, Prediction)),
            new SegmentationEvaluatorOptions { GroundTruthMaskColumnName = "Truth" });
        AssertHandExample(metrics);
        Assert.AreEqual(1, metrics.ImageCount);
        StringAssert.Contains(metrics.ToString(), "pixel accuracy 0.7692");
        StringAssert.Contains(metrics.ToString(), "mean IoU 0.6405");
    }

    [TestMethod]
    public void GrayscaleAndVocPalettePngMasksGiveTheSameNumbers()
    {
        using var folder = new ScratchFolder();
        string gray = folder.Combine("gray.png"), palette = folder.Combine("palette.png");
        TestPng.WriteGray(gray, 4, 4, Truth);
        TestPng.WriteVocPalette(palette, 4, 4, Truth);
        var ml = new MLContext(1);
        AssertHandExample(ml.Segmentation().Evaluate(Rows(ml, (gray, [], Prediction))));
        AssertHandExample(ml.Segmentation().Evaluate(Rows(ml, (palette, [], Prediction))));
    }

    [TestMethod]
    public void TheTestPaletteIsTheVocColormap()
    {
        var p = TestPng.VocPalette();
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0 }, p[0..3]);
        CollectionAssert.AreEqual(new byte[] { 128, 0, 0 }, p[3..6]);          // 1 aeroplane
        CollectionAssert.AreEqual(new byte[] { 192, 128, 128 }, p[45..48]);    // 15 person
        CollectionAssert.AreEqual(new byte[] { 224, 224, 192 }, p[765..768]);  // 255 void
    }

    [TestMethod]
    public void ImagesAccumulateIntoOneConfusionMatrixAndAbsentClassesLeaveTheMean()
    {
        var ml = new MLContext(1);
        // Image 2 predicts class 3, which no ground truth has: IoU 0, counted. Class 4 is nowhere: NaN, left out.
        var data = Rows(ml, ("a", Truth, Prediction), ("b", [0, 1], [3, 1]));
        var m = ml.Segmentation().Evaluate(data, new SegmentationEvaluatorOptions
        {
            GroundTruthMaskColumnName = "Truth",
            ClassNames = ["background", "cat", "dog", "bird", "fish"],
        });
        Assert.AreEqual(15, m.PixelCount);
        Assert.AreEqual(11.0 / 15, m.PixelAccuracy, 1e-15);
        Assert.AreEqual(3.0 / 6, m.PerClassIoU[0], 1e-15);  // truth 0: 5 pixels, predicted 0: 4, correct 3
        Assert.AreEqual(5.0 / 8, m.PerClassIoU[1], 1e-15);  // truth 1: 6, predicted 1: 7, correct 5
        Assert.AreEqual(0.0, m.PerClassIoU[3]);
        Assert.IsTrue(double.IsNaN(m.PerClassIoU[4]));
        Assert.AreEqual((3.0 / 6 + 5.0 / 8 + 3.0 / 4 + 0) / 4, m.MeanIoU, 1e-15);
        Assert.IsTrue(double.IsNaN(m.PerClassAccuracy[3]));
        Assert.AreEqual((3.0 / 5 + 5.0 / 6 + 3.0 / 4) / 3, m.MeanAccuracy, 1e-15);
        StringAssert.Contains(m.ToString(), "fish");
    }

    [TestMethod]
    public void AMaskOfAnotherSizeNamesTheRowThePathAndBothSizes()
    {
        using var folder = new ScratchFolder();
        string mask = folder.Combine("mask.png");
        TestPng.WriteGray(mask, 4, 4, Truth);
        var ml = new MLContext(1);
        var data = Rows(ml, (mask, [], Prediction), (mask, [], new byte[12]));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Segmentation().Evaluate(data));
        Assert.AreEqual($"Row 1 (mask '{mask}'): the mask is 4×4 (16 pixels) but 'PredictedMask' holds 12 values. Predictions must be at the mask's size: resize them back to the original image before evaluating.", e.Message);
    }

    [TestMethod]
    public void ACustomMaskLoaderIsUsed()
    {
        var ml = new MLContext(1);
        var asked = new List<string>();
        var m = ml.Segmentation().Evaluate(Rows(ml, ("virtual://mask", [], Prediction)), new SegmentationEvaluatorOptions
        {
            MaskLoader = path => { asked.Add(path); return (Truth, 4, 4); },
        });
        CollectionAssert.AreEqual(new[] { "virtual://mask" }, asked);
        AssertHandExample(m);
    }

    [TestMethod]
    public void AClassIndexOutsideTheClassesNamesThePixel()
    {
        var ml = new MLContext(1);
        var options = new SegmentationEvaluatorOptions { NumberOfClasses = 2, MaskLoader = _ => (Truth, 4, 4) };
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Segmentation().Evaluate(Rows(ml, ("m.png", [], Prediction)), options));
        Assert.AreEqual("Row 0 (mask 'm.png'): ground truth pixel (0, 2) is 2; class indices must be 0..1, or 255 (ignore) in the ground truth.", e.Message);

        var ignorePredicted = (byte[])Prediction.Clone();
        ignorePredicted[0] = 255;
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Segmentation().Evaluate(Rows(ml, ("m.png", Truth, ignorePredicted)),
            new SegmentationEvaluatorOptions { GroundTruthMaskColumnName = "Truth" }));
        Assert.AreEqual("Row 0: 'PredictedMask' pixel 0 is 255; a prediction cannot be the ignore index 255.", e.Message);
    }

    [TestMethod]
    public void MissingOrMistypedColumnsAreNamed()
    {
        var ml = new MLContext(1);
        var data = Rows(ml, ("m.png", Truth, Prediction));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Evaluate(data, new SegmentationEvaluatorOptions { PredictedMaskColumnName = "Mask" }));
        StringAssert.StartsWith(e.Message, "Column 'Mask' not found.");
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Evaluate(data, new SegmentationEvaluatorOptions { PredictedMaskColumnName = "MaskPath" }));
        StringAssert.StartsWith(e.Message, "Column 'MaskPath' (predicted mask) must be a vector of Byte");
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Evaluate(data, new SegmentationEvaluatorOptions { MaskPathColumnName = "Truth" }));
        StringAssert.StartsWith(e.Message, "Column 'Truth' (mask paths) must be text");
    }

    [TestMethod]
    public void NonMaskPngsAndMissingFilesAreRejectedClearly()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string missing = folder.Combine("missing.png");
        var e1 = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Segmentation().Evaluate(Rows(ml, (missing, [], Prediction))));
        Assert.AreEqual($"The mask '{missing}' does not exist.", e1.Message);
        string text = folder.File("not.png", "hello, this is not a png file");
        var e2 = Assert.ThrowsExactly<InvalidDataException>(() => ml.Segmentation().Evaluate(Rows(ml, (text, [], Prediction))));
        StringAssert.Contains(e2.Message, "is not a PNG file");
    }

    [TestMethod]
    public void OptionsAreValidatedWhenSet()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SegmentationEvaluatorOptions { NumberOfClasses = 0 });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SegmentationEvaluatorOptions { NumberOfClasses = 256 });
        Assert.ThrowsExactly<ArgumentException>(() => new SegmentationEvaluatorOptions { ClassNames = [] });
        Assert.ThrowsExactly<ArgumentException>(() => new SegmentationEvaluatorOptions { NumberOfClasses = 3, ClassNames = ["a", "b"] });
        Assert.ThrowsExactly<ArgumentNullException>(() => new SegmentationEvaluatorOptions { MaskLoader = null! });
        Assert.AreEqual(2, new SegmentationEvaluatorOptions { ClassNames = ["a", "b"] }.NumberOfClasses);
    }
}
