using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Tests.Transforms;

[TestClass]
public sealed class AugmentDetectionTests
{
    private static readonly (byte, byte, byte) Grey = (90, 90, 90), Red = (230, 20, 20), Blue = (20, 20, 230);

    /// <summary>Eight 40×30 grey images, each with a red box and a blue box at different places, labels red/blue.</summary>
    private static IDataView Data(MLContext ml, TempImages images)
    {
        var records = new List<DetectionRecord>();
        for (int i = 0; i < 8; i++)
        {
            var red = new BoundingBox(2 + i, 3, 14 + i, 15);
            var blue = new BoundingBox(22, 10 + i % 4, 36, 24 + i % 4);
            images.Write($"img{i}.png", 40, 30, (x, y) => Inside(red, x, y) ? Red : Inside(blue, x, y) ? Blue : Grey);
            records.Add(new DetectionRecord($"img{i}.png", [red, blue], ["red", "blue"], [false, true]));
        }
        return DetectionDataView.Create(ml, records, ["red", "blue"]);
    }

    private static bool Inside(BoundingBox b, float x, float y) => x + 0.5f > b.XMin && x + 0.5f < b.XMax && y + 0.5f > b.YMin && y + 0.5f < b.YMax;

    private static IEstimator<ITransformer> Load(MLContext ml, TempImages images)
        => ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath);

    private static (List<ImageCopy> Images, List<float[]> Boxes, List<uint[]> Labels, List<bool[]> Difficult) ReadAll(IDataView v)
        => (Read.Images(v, "Image"), Read.Column<float[]>(v, "Boxes"), Read.Column<uint[]>(v, "Labels"), Read.Column<bool[]>(v, "Difficult"));

    [TestMethod]
    public void TheSameSeedGivesTheSameAugmentationAndAnotherSeedDoesNot()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        IDataView Augment(int seed) => Load(ml, images).Append(ml.Transforms.AugmentDetection(
            new AugmentDetectionEstimator.Options("Image", seed: seed, cropProbability: 1))).Fit(data).Transform(data);

        var first = Augment(42);
        var a = ReadAll(first);
        var again = ReadAll(first);           // a second pass over the same view
        var b = ReadAll(Augment(42));         // a second fit with the same seed
        var c = ReadAll(Augment(43));
        for (int i = 0; i < 8; i++)
        {
            CollectionAssert.AreEqual(a.Images[i].Bgra, again.Images[i].Bgra, $"row {i}: second pass");
            CollectionAssert.AreEqual(a.Images[i].Bgra, b.Images[i].Bgra, $"row {i}: same seed");
            CollectionAssert.AreEqual(a.Boxes[i], b.Boxes[i], $"row {i}: boxes");
            CollectionAssert.AreEqual(a.Labels[i], b.Labels[i], $"row {i}: labels");
        }
        // Split cursors give each row the same augmentation as one cursor does (draws depend on the row id only).
        var idColumn = first.Schema["Boxes"];
        var byId = new Dictionary<ulong, float[]>();
        foreach (var cursor in first.GetRowCursorSet([idColumn], 3))
            using (cursor)
            {
                var getId = cursor.GetIdGetter();
                var getBoxes = cursor.GetGetter<VBuffer<float>>(idColumn);
                DataViewRowId id = default; VBuffer<float> boxes = default;
                while (cursor.MoveNext()) { getId(ref id); getBoxes(ref boxes); byId[id.Low] = boxes.DenseValues().ToArray(); }
            }
        Assert.AreEqual(8, byId.Count);
        for (int i = 0; i < 8; i++)
            CollectionAssert.AreEqual(a.Boxes[i], byId[(ulong)i], $"row {i}: cursor set");

        Assert.IsTrue(Enumerable.Range(0, 8).Any(i => a.Images[i].Width != c.Images[i].Width || !a.Boxes[i].SequenceEqual(c.Boxes[i])),
            "seed 43 crops differently from seed 42");
        Assert.IsTrue(Enumerable.Range(0, 8).Any(i => a.Images[i].Width < 40), "crops happen");
    }

    [TestMethod]
    public void FlippingTwiceIsTheIdentity()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var flip = new AugmentDetectionEstimator.Options("Image", horizontalFlipProbability: 1, cropProbability: 0,
            brightnessJitter: 0, contrastJitter: 0);
        var original = ReadAll(Load(ml, images).Fit(data).Transform(data));
        var once = ReadAll(Load(ml, images).Append(ml.Transforms.AugmentDetection(flip)).Fit(data).Transform(data));
        var twice = ReadAll(Load(ml, images).Append(ml.Transforms.AugmentDetection(flip))
            .Append(ml.Transforms.AugmentDetection(flip)).Fit(data).Transform(data));

        // Row 0: red [2, 3, 14, 15] → [40 - 14, 3, 40 - 2, 15] = [26, 3, 38, 15]; blue [22, 10, 36, 24] → [4, 10, 18, 24].
        CollectionAssert.AreEqual(new float[] { 26, 3, 38, 15, 4, 10, 18, 24 }, once.Boxes[0]);
        Assert.AreEqual(Red, once.Images[0].Rgb(39 - 5, 5));
        for (int i = 0; i < 8; i++)
        {
            CollectionAssert.AreEqual(original.Images[i].Bgra, twice.Images[i].Bgra, $"row {i}: pixels");
            CollectionAssert.AreEqual(original.Boxes[i], twice.Boxes[i], $"row {i}: boxes");
            CollectionAssert.AreEqual(original.Labels[i], twice.Labels[i], $"row {i}: labels");
        }
    }

    [TestMethod]
    [DataRow(DetectionCropMode.MinScale)]
    [DataRow(DetectionCropMode.IoUConstrained)]
    public void BoxesStayOnTheirPixelsThroughCropsAndFlips(DetectionCropMode mode)
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        for (int seed = 0; seed < 4; seed++)
        {
            var options = new AugmentDetectionEstimator.Options("Image", seed: seed, cropProbability: 1, cropMode: mode,
                minVisibleFraction: 0.3f, brightnessJitter: 0, contrastJitter: 0);
            var (imgs, boxes, labels, difficult) = ReadAll(Load(ml, images).Append(ml.Transforms.AugmentDetection(options)).Fit(data).Transform(data));
            for (int i = 0; i < 8; i++)
            {
                var img = imgs[i];
                Assert.AreEqual(4 * labels[i].Length, boxes[i].Length, $"seed {seed} row {i}: one label per box");
                Assert.AreEqual(labels[i].Length, difficult[i].Length, $"seed {seed} row {i}: one flag per box");
                Assert.IsTrue(labels[i].Length > 0, $"seed {seed} row {i}: a crop never drops every box");
                for (int k = 0; k < labels[i].Length; k++)
                {
                    var b = boxes[i].AsSpan(4 * k, 4).ToArray();
                    Assert.IsTrue(b[0] >= 0 && b[1] >= 0 && b[2] <= img.Width && b[3] <= img.Height && b[0] < b[2] && b[1] < b[3],
                        $"seed {seed} row {i}: box [{string.Join(", ", b)}] inside {img.Width}×{img.Height}");
                    var colour = img.Rgb((int)((b[0] + b[2]) / 2), (int)((b[1] + b[3]) / 2));
                    Assert.AreEqual(labels[i][k] == 1 ? Red : Blue, colour, $"seed {seed} row {i}: box {k} centre colour");
                    Assert.AreEqual(labels[i][k] == 2, difficult[i][k], $"seed {seed} row {i}: difficult flag follows its box");
                }
            }
        }
    }

    [TestMethod]
    public void MaskFollowsTheImage()
    {
        using var images = new TempImages();
        // Pixel (x, y) = (R 6x, G 8y, B 0); the mask holds the column index, so after any crop/flip mask value = R / 6.
        images.Write("ramp.png", 40, 30, (x, y) => ((byte)(6 * x), (byte)(8 * y), 0));
        var ml = new MLContext(seed: 1);
        var mask = Enumerable.Range(0, 40 * 30).Select(i => (byte)(i % 40)).ToArray();
        var rows = Enumerable.Range(0, 6).Select(_ => new MaskedRow { ImagePath = "ramp.png", Boxes = [5, 5, 35, 25], Mask = mask, MaskWidth = 40, MaskHeight = 30 });
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new AugmentDetectionEstimator.Options("Image", seed: 3, cropProbability: 1, brightnessJitter: 0, contrastJitter: 0,
            labelsColumnName: null, difficultColumnName: null, maskColumnName: "Mask", maskWidthColumnName: "MaskWidth", maskHeightColumnName: "MaskHeight");
        var output = ml.Transforms.LoadImages("Image", images.Folder, "ImagePath").Append(ml.Transforms.AugmentDetection(options)).Fit(data).Transform(data);
        var imgs = Read.Images(output, "Image");
        var masks = Read.Column<byte[]>(output, "Mask");
        var widths = Read.Column<int>(output, "MaskWidth");
        var heights = Read.Column<int>(output, "MaskHeight");
        for (int i = 0; i < imgs.Count; i++)
        {
            Assert.AreEqual((imgs[i].Width, imgs[i].Height), (widths[i], heights[i]), $"row {i}: mask size");
            for (int y = 0; y < heights[i]; y++)
                for (int x = 0; x < widths[i]; x++)
                    Assert.AreEqual(imgs[i].Rgb(x, y).R / 6, masks[i][y * widths[i] + x], $"row {i}: mask at ({x}, {y})");
        }
        Assert.IsTrue(imgs.Any(im => im.Width < 40), "some rows were cropped");
    }

    [TestMethod]
    public void TrainingScopeKeepsItOutOfTheSavedScoringModel()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var model = Load(ml, images)
            .Append(ml.Transforms.AugmentDetection("Image", seed: 1), TransformerScope.Training)
            .Append(ml.Transforms.ResizeImages("Image", 32, 32, "Image", Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.Transforms.ScaleToMinusOneOne("Pixels"))
            .Fit(data);
        Assert.AreEqual(8, Read.Column<float[]>(model.Transform(data), "Pixels").Count, "the training model runs with augmentation");
        var scoring = model.GetModelFor(TransformerScope.Scoring);
        Assert.IsFalse(scoring.OfType<AugmentDetectionTransformer>().Any());
        var path = Path.Combine(images.Folder, "scoring.zip");
        ml.Model.Save(scoring, data.Schema, path);
        var loaded = new MLContext(seed: 2).Model.Load(path, out _);
        CollectionAssert.AreEqual(Read.Column<float[]>(scoring.Transform(data), "Pixels")[0], Read.Column<float[]>(loaded.Transform(data), "Pixels")[0]);
    }

    [TestMethod]
    public void JitterChangesOnlyColoursAndNeedsAllColumns()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var options = new AugmentDetectionEstimator.Options("Jittered", "Image", seed: 5, horizontalFlipProbability: 0, cropProbability: 0,
            brightnessJitter: 0.5f, contrastJitter: 0.5f);
        var output = Load(ml, images).Append(ml.Transforms.AugmentDetection(options)).Fit(data).Transform(data);
        Assert.AreEqual(output.Schema["Image"].Type, output.Schema["Jittered"].Type, "no crop: the image type is kept");
        var original = Read.Images(output, "Image");
        var jittered = Read.Images(output, "Jittered");
        Assert.IsTrue(Enumerable.Range(0, 8).Any(i => !original[i].Bgra.SequenceEqual(jittered[i].Bgra)));
        // Grey stays grey: brightness and contrast act on all three channels alike.
        var (r, g, b) = jittered[0].Rgb(39, 0);
        Assert.IsTrue(r == g && g == b, $"({r}, {g}, {b})");

        var e = Assert.ThrowsExactly<ArgumentException>(() => Load(ml, images).Append(ml.Transforms.AugmentDetection("Image", "Picture")).Fit(data));
        StringAssert.StartsWith(e.Message, "AugmentDetection: input column 'Picture' (image) was not found");
        var s = Assert.ThrowsExactly<NotSupportedException>(() =>
            ml.Model.Save(Load(ml, images).Append(ml.Transforms.AugmentDetection("Image")).Fit(data), data.Schema, Path.Combine(images.Folder, "m.zip")));
        StringAssert.StartsWith(s.Message, "AugmentDetection cannot be saved");
        var o = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new AugmentDetectionEstimator.Options("Image", cropProbability: 1.5f));
        StringAssert.Contains(o.Message, "cropProbability 1.5 must be a probability in [0, 1].");
    }
}
