using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Visualization;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

[TestClass]
public sealed class SegmentationScoringTests
{
    private static SegmentationTransformer? _model;
    private static DeepLabNetwork? _network;

    /// <summary>The share of pixels whose scored class may differ from torch's argmax (exact near-ties only).</summary>
    private const double MismatchTolerance = 1e-3;

    /// <summary>A briefly trained tiny segmenter (a few steps: scoring is tested, not learning), made once for the class.</summary>
    private static (SegmentationTransformer Model, DeepLabNetwork Network) Trained(MLContext ml)
    {
        if (_model == null)
        {
            var estimator = ml.Transforms.TrainDeepLabSegmenter(DeepLabTrainingTests.TinyOptions() with { MaxSteps = 3 });
            _model = estimator.Fit(DeepLabTrainingTests.Load(ml, "val"));
            _network = estimator.LastNetwork;
        }
        return (_model, _network!);
    }

    private static List<(string Path, byte[] Mask)> Predictions(MLContext ml, ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        var result = new List<(string, byte[])>();
        using var cursor = scored.GetRowCursor(scored.Schema);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema[SegmentationColumns.ImagePath]);
        var mask = cursor.GetGetter<VBuffer<byte>>(scored.Schema[SegmentationColumns.PredictedMask]);
        ReadOnlyMemory<char> p = default;
        VBuffer<byte> m = default;
        while (cursor.MoveNext())
        {
            path(ref p);
            mask(ref m);
            result.Add((p.ToString(), m.DenseValues().ToArray()));
        }
        return result;
    }

    [TestMethod]
    public void PredictedMaskIsTheArgMaxOfTheTorchNetworkAtTheOriginalSize()
    {
        var ml = new MLContext(1);
        var (model, network) = Trained(ml);
        var data = DeepLabTrainingTests.Load(ml, "val");
        var predictions = Predictions(ml, model, data);
        Assert.HasCount(16, predictions);
        var pixels = predictions.Select(p => new NetworkInput(64, 64, false).ReadPixels(p.Path)).ToList();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        network.eval();
        var images = stack(pixels.Select(b => tensor(b, ScalarType.Byte).reshape(3, 64, 64).to(ScalarType.Float32)).ToArray());
        var expected = network.call(images).argmax(1).to(ScalarType.Byte).data<byte>().ToArray();
        // A network that predicts one class everywhere would match any scoring chain that also returns that class (or a
        // zero mask): the comparison only means something if such a constant mask would fail it, so the pixels outside
        // the most predicted class must be well above the mismatch tolerance (five times it).
        var shares = expected.GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count() / (double)expected.Length);
        Console.WriteLine("predicted class shares: " + string.Join(", ", shares.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value:F3}")));
        Assert.IsGreaterThanOrEqualTo(5 * MismatchTolerance, 1 - shares.Values.Max(), "share of the pixels outside the most predicted class");
        long mismatches = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            Assert.HasCount(64 * 64, predictions[i].Mask);   // the synthetic images are 64×64: original size = input size
            for (int p = 0; p < 64 * 64; p++) if (predictions[i].Mask[p] != expected[i * 4096 + p]) mismatches++;
        }
        // ONNX logits match torch's within 1e-4 (DeepLabNetworkTests); only exact near-ties may flip.
        Assert.IsLessThan(predictions.Count * 4096 * MismatchTolerance, (double)mismatches, $"{mismatches} pixels differ");
    }

    [TestMethod]
    public void MaskIsResizedToTheOriginalImageByNearestNeighbour()
    {
        // Logits (K=2, 2×2): class 1 wins at (0,0) and (1,1); an original 4×6 image gets 2×3 blocks.
        var output = new SegmentationOutputRow();
        SegmentationOutputMapping.Map(new SegmentationOutputInput
        {
            Logits = [0, 5, 5, 0, /* class 1 */ 1, 0, 0, 1],
            Shape = [2, 2, 2], Width = 4, Height = 6,
        }, output);
        CollectionAssert.AreEqual(new byte[]
        {
            1, 1, 0, 0,
            1, 1, 0, 0,
            1, 1, 0, 0,
            0, 0, 1, 1,
            0, 0, 1, 1,
            0, 0, 1, 1,
        }, output.PredictedMask);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationOutputMapping.Map(new SegmentationOutputInput { Logits = [1, 2, 3], Shape = [2, 2, 2], Width = 1, Height = 1 }, new SegmentationOutputRow()));
        StringAssert.Contains(ex.Message, "The segmenter gave 3 logits for shape [2, 2, 2]");
    }

    [TestMethod]
    public void SaveLoadRoundTripScoresTheSameAndEvaluates()
    {
        var ml = new MLContext(1);
        var (model, _) = Trained(ml);
        var data = DeepLabTrainingTests.Load(ml, "val");
        using var folder = new TempFolder();
        string path = folder["segmenter.zip"];
        ml.Model.Save(model, data.Schema, path);
        var loaded = SegmentationTransformer.Load(new MLContext(2), path);
        CollectionAssert.AreEqual(model.OnnxModel, loaded.OnnxModel);
        CollectionAssert.AreEqual(SyntheticShapesDataset.SegmentationClassNames.ToArray(), loaded.ClassNames.ToArray());
        var a = Predictions(ml, model, data);
        var b = Predictions(ml, loaded, data);
        for (int i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i].Mask, b[i].Mask);
        var metrics = ml.Segmentation().Evaluate(loaded.Transform(data));
        Assert.AreEqual(16, metrics.ImageCount);
        loaded.ExportOnnx(folder["segmenter.onnx"]);
        CollectionAssert.AreEqual(model.OnnxModel, File.ReadAllBytes(folder["segmenter.onnx"]));
    }

    [TestMethod]
    public void MissingMaskColumnFailsAtFitWithTheColumnNamed()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { ImagePath = "a.png" } });
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(DeepLabTrainingTests.TinyOptions()).Fit(data));
        StringAssert.Contains(ex.Message, "Column 'MaskPath' not found; it must be text (the mask file path). Columns: ImagePath.");
    }

    [TestMethod]
    public void MaskOfTheWrongSizeNamesTheRowAndBothFiles()
    {
        var ml = new MLContext(1);
        using var folder = new TempFolder();
        var root = DetectorTrainingTests.TinyShapes;
        var image = Directory.GetFiles(Path.Combine(root, "JPEGImages")).OrderBy(f => f, StringComparer.Ordinal).First();
        var mask = folder["small.png"];
        new MLNetExtensions.Data.Masks.SegmentationMask(10, 12).Save(mask);
        var data = SegmentationDataView.Create(ml.Data, [new SegmentationRecord(image, mask)]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainDeepLabSegmenter(DeepLabTrainingTests.TinyOptions()).Fit(data));
        StringAssert.Contains(ex.Message, $"Row 0 of the training data: the mask '{mask}' is 10×12 but the image '{image}' is 64×64. A mask must have its image's size.");
    }

    [TestMethod]
    public void BadOptionsFailWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(1);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { BatchSize = 1 }));
        StringAssert.Contains(ex.Message, "BatchSize must be at least 2");
        var ex2 = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { FreezeBackboneUpTo = "layer2" }));
        StringAssert.Contains(ex2.Message, "FreezeBackboneUpTo ('layer2') is set but FreezeBackbone is false");
    }

    [TestMethod]
    public void VisualizerBlendsClassColoursAndLeavesBackground()
    {
        using var image = new SKBitmap(new SKImageInfo(40, 40, SKColorType.Rgba8888, SKAlphaType.Premul));
        image.Erase(new SKColor(100, 100, 100));
        var mask = new byte[40 * 40];
        mask[^1] = 1;     // bottom-right pixel: class 1, VOC colour (128, 0, 0)
        mask[^2] = 255;   // ignored: left alone
        var png = new SegmentationVisualizer(["background", "circle"], opacity: 0.5f, scale: 2f).Draw(image, mask);
        using var drawn = SKBitmap.Decode(png);
        Assert.AreEqual(80, drawn.Width);
        Assert.AreEqual(80, drawn.Height);
        Assert.AreEqual(new SKColor(114, 50, 50), drawn.GetPixel(79, 79));    // 0.5·(128, 0, 0) + 0.5·(100, 100, 100)
        Assert.AreEqual(new SKColor(114, 50, 50), drawn.GetPixel(78, 78));    // scaled ×2 without smoothing
        Assert.AreEqual(new SKColor(100, 100, 100), drawn.GetPixel(77, 79));  // 255 is not drawn
        Assert.AreEqual(new SKColor(100, 100, 100), drawn.GetPixel(40, 60));  // background is not drawn
        Assert.AreNotEqual(new SKColor(100, 100, 100), drawn.GetPixel(1, 1)); // the legend (one row: "circle")
        Assert.AreEqual(new SKColor(100, 100, 100), drawn.GetPixel(1, 40));   // no second legend row
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new SegmentationVisualizer(["a"]).Draw(image, new byte[5]));
        StringAssert.Contains(ex.Message, "The mask has 5 pixels but the image is 40×40 (1600)");
    }
}
