using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Tests.Scoring;
using MLNetExtensions.Torch.Detection;
using SkiaSharp;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary>The trained R-CNN as an ML.NET transformer chain: a fresh process scores its saved zip identically, an image
/// without proposals gives no detections, and a class without training boxes is refused by name.</summary>
[TestClass]
public sealed class RcnnScoringTests
{
    [TestMethod]
    public void AFreshProcessScoresTheSavedRcnnIdentically()
    {
        var (detector, _) = TinyRcnn.Get();
        var images = TinyTrainedDetector.Images(4);
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, images);
        using var folder = new TempFolder();
        string zip = Path.Combine(folder.Path, "model.zip"), json = Path.Combine(folder.Path, "host.json"), onnx = Path.Combine(folder.Path, "host.onnx");
        ml.Model.Save(detector, data.Schema, zip);

        var expected = ScoredColumns.Read(detector.Transform(data));
        var host = SaveLoadTests.RunHost([zip, json, onnx, .. images]);

        CollectionAssert.AreEqual(new[] { "ImagePath", "PredictedBoxes", "Scores", "PredictedLabelNames", "PredictedLabels" }, expected.Select(c => c.Name).ToArray());
        Assert.IsGreaterThan(0, expected.Single(c => c.Name == "Scores").Rows.Sum(r => r.Count), "the R-CNN found nothing, so the comparison proves little");
        SaveLoadTests.AssertSameColumns(expected, host.Columns);
        // The typed PredictionEngine of mlContext.Model.Load's chain and DetectionTransformer.Load's Detect agree with it.
        var boxes = expected.Single(c => c.Name == "PredictedBoxes");
        foreach (var (what, predictions) in new[] { ("engine", host.Engine), ("Detect", host.Helper) })
            for (int r = 0; r < images.Length; r++)
                CollectionAssert.AreEqual(boxes.Rows[r], predictions[r].Boxes.Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).ToList(), $"{what} boxes, row {r}");
        CollectionAssert.AreEqual(detector.OnnxModel, File.ReadAllBytes(onnx), "ExportOnnx after Load writes the trained network's bytes");
        Assert.IsFalse(host.LoadedAssemblies.Any(a => a.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)), "the scoring process loaded TorchSharp");
    }

    [TestMethod]
    public void AnImageWithoutProposalsHasNoDetections()
    {
        var (detector, _) = TinyRcnn.Get();
        using var folder = new TempFolder();
        // 3×3 pixels: every selective search box is below the model's MinBoxSize of 4, so there is no proposal.
        string tiny = Path.Combine(folder.Path, "tiny.png");
        using (var bitmap = new SKBitmap(3, 3))
        {
            bitmap.Erase(new SKColor(200, 30, 30));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(tiny, png.ToArray());
        }
        var prediction = detector.Detect(tiny);
        Assert.IsEmpty(prediction.Scores);
        Assert.IsEmpty(prediction.PredictedBoxes);
        var ml = new MLContext(1);
        var rows = ScoredColumns.Read(detector.Transform(TinyTrainedDetector.ImageView(ml, [tiny, TinyTrainedDetector.Images(1)[0]])));
        Assert.IsEmpty(rows.Single(c => c.Name == "Scores").Rows[0], "no proposals, no detections");
        Assert.IsNotEmpty(rows.Single(c => c.Name == "Scores").Rows[1], "the next image of the same cursor is still scored");
    }

    [TestMethod]
    public void AClassWithoutTrainingBoxesIsNamed()
    {
        var ml = new MLContext(1);
        var classes = SyntheticShapesDataset.ClassNames.Append("hexagon").ToArray();
        var train = ml.Data.LoadFromPascalVoc(DetectorTrainingTests.TinyShapes, "train", new PascalVocOptions { ClassNames = classes });
        var ex = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainRcnnDetector(TinyRcnn.Options).Fit(train));
        Assert.AreEqual("Class 'hexagon' has no boxes in the training data, so R-CNN has no positives to fine-tune its CNN and train its SVM with. " +
            "Add images with 'hexagon' objects, or leave the class out of the class list. (Parameter 'trainData')", ex.Message);
    }

    [TestMethod]
    public void BatchedScoringIsRefusedWithTheReason()
    {
        var (detector, _) = TinyRcnn.Get();
        var ex = Assert.ThrowsExactly<NotSupportedException>(() => detector.ScoreBatched(TinyTrainedDetector.ImageView(new MLContext(1), TinyTrainedDetector.Images(1))));
        Assert.AreEqual("ScoreBatched runs the network on the pixels alone; an R-CNN's network also takes the image's selective search proposals. Score it with Transform (or Detect).", ex.Message);
    }
}
