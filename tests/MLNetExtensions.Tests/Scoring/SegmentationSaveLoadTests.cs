using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Tests.Segmentation;
using MLNetExtensions.Torch.Segmentation;
using SkiaSharp;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// A trained segmenter saved with <c>mlContext.Model.Save</c> scores the same in a fresh process (the ScoringHost
/// project, which references only the scoring library) as in the process that trained it.
/// </summary>
[TestClass]
public sealed class SegmentationSaveLoadTests
{
    private static SegmentationTransformer Trained() => TinyTrainedSegmenter.Get();

    /// <summary>Four validation images of the tiny set plus one of them stretched to 80×48, so the mask's
    /// nearest-neighbour resize back to a non-square original size is compared too.</summary>
    internal static string[] Images(TempFolder folder)
    {
        var images = TinyTrainedDetector.Images(4);
        string stretched = folder["stretched.png"];
        using (var source = SKBitmap.Decode(images[0]))
        using (var resized = source.Resize(new SKImageInfo(80, 48), SKFilterQuality.Medium))
        using (var png = SKImage.FromBitmap(resized).Encode(SKEncodedImageFormat.Png, 100))
            File.WriteAllBytes(stretched, png.ToArray());
        return [.. images, stretched];
    }

    [TestMethod]
    public void AFreshProcessScoresTheSavedSegmenterIdentically()
    {
        var segmenter = Trained();
        using var folder = new TempFolder();
        var images = Images(folder);
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, images);
        string zip = folder["model.zip"], json = folder["host.json"], onnx = folder["host.onnx"];
        ml.Model.Save(segmenter, data.Schema, zip);

        var expected = ScoredColumns.Read(segmenter.Transform(data));
        var host = SaveLoadTests.RunHost(["--segmentation", zip, json, onnx, .. images]);

        CollectionAssert.AreEqual(new[] { "ImagePath", SegmentationColumns.PredictedMask, SegmentationColumns.PredictedMaskWidth, SegmentationColumns.PredictedMaskHeight },
            expected.Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "64", "64", "64", "64", "80" }, expected[2].Rows.Select(r => r.Single()).ToArray(), "mask widths");
        CollectionAssert.AreEqual(new[] { "64", "64", "64", "64", "48" }, expected[3].Rows.Select(r => r.Single()).ToArray(), "mask heights");
        var masks = expected[1].Rows;
        CollectionAssert.AreEqual(new[] { 64 * 64, 64 * 64, 64 * 64, 64 * 64, 80 * 48 }, masks.Select(r => r.Count).ToArray(), "masks have their image's size");
        var classes = masks.SelectMany(r => r).Distinct().Order().ToList();
        Console.WriteLine($"predicted classes: {string.Join(", ", classes)}");
        Assert.IsGreaterThan(1, classes.Count, "the segmenter predicts a single class, so the comparison proves little");
        Assert.HasCount(expected.Count, host.Columns);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], host.Columns[i]);
            Assert.AreEqual(e.Name, a.Name);
            Assert.AreEqual(e.Type, a.Type, $"column {e.Name}");
            Assert.HasCount(e.Rows.Count, a.Rows, $"rows of {e.Name}");
            for (int r = 0; r < e.Rows.Count; r++)
                CollectionAssert.AreEqual(e.Rows[r], a.Rows[r], $"column {e.Name}, row {r}");
        }

        // The typed PredictionEngine<ImageInput, SegmentationPrediction> on the loaded model, and Segment on
        // SegmentationTransformer.Load's, give the same masks and sizes.
        foreach (var (what, predictions) in new[] { ("engine", host.Engine), ("Segment", host.Helper) })
        {
            Assert.HasCount(images.Length, predictions, what);
            for (int r = 0; r < images.Length; r++)
            {
                CollectionAssert.AreEqual(masks[r], predictions[r].Mask.Select(b => b.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(), $"{what} mask, row {r}");
                Assert.AreEqual(expected[2].Rows[r].Single(), predictions[r].Width.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{what} width, row {r}");
                Assert.AreEqual(expected[3].Rows[r].Single(), predictions[r].Height.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{what} height, row {r}");
            }
        }

        // SegmentationTransformer.Load re-wraps the chain there, without TorchSharp.
        CollectionAssert.AreEqual(segmenter.ClassNames.ToArray(), host.ClassNames);
        CollectionAssert.AreEqual(segmenter.OnnxModel, File.ReadAllBytes(onnx), "ExportOnnx after Load writes the trained network's bytes");
        Assert.IsFalse(host.LoadedAssemblies.Any(a => a.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)),
            $"the scoring process loaded TorchSharp: {string.Join(", ", host.LoadedAssemblies)}");
    }

    [TestMethod]
    public void LoadRewrapsTheSavedChainInProcess()
    {
        var segmenter = Trained();
        using var folder = new TempFolder();
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, Images(folder));
        string zip = folder["model.zip"];
        ml.Model.Save(segmenter, data.Schema, zip);

        var loaded = SegmentationTransformer.Load(new MLContext(2), zip);
        CollectionAssert.AreEqual(segmenter.ClassNames.ToArray(), loaded.ClassNames.ToArray());
        CollectionAssert.AreEqual(segmenter.OnnxModel, loaded.OnnxModel);
        Assert.AreEqual(JsonSerializer.Serialize(ScoredColumns.Read(segmenter.Transform(data))), JsonSerializer.Serialize(ScoredColumns.Read(loaded.Transform(data))));
    }

    [TestMethod]
    public void ATruncatedMissingOrWrongModelFileGivesAClearError()
    {
        var segmenter = Trained();
        using var folder = new TempFolder();
        string zip = folder["model.zip"], truncated = folder["truncated.zip"], detector = folder["detector.zip"];
        var ml = new MLContext(1);
        var schema = TinyTrainedDetector.ImageView(ml, []).Schema;
        ml.Model.Save(segmenter, schema, zip);
        var bytes = File.ReadAllBytes(zip);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);

        var ex = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationTransformer.Load(ml, truncated));
        Assert.AreEqual($"The model file '{truncated}' is truncated or damaged: it is not a complete zip archive. Save the model again with mlContext.Model.Save.", ex.Message);

        string missing = folder["missing.zip"];
        var notFound = Assert.ThrowsExactly<FileNotFoundException>(() => SegmentationTransformer.Load(ml, missing));
        Assert.AreEqual($"The model file '{missing}' does not exist.", notFound.Message);

        ml.Model.Save(TinyTrainedDetector.Get(MLNetExtensions.Torch.Detection.DetectorArchitecture.Grid), schema, detector);
        var wrong = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationTransformer.Load(ml, detector));
        Assert.AreEqual($"The model file '{detector}' holds no segmenter ONNX model. Save a SegmentationTransformer (or its Chain) with mlContext.Model.Save.", wrong.Message);
    }
}
