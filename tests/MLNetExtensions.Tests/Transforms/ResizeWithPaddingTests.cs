using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Tests.Transforms;

[TestClass]
public sealed class ResizeWithPaddingTests
{
    private static readonly (byte, byte, byte) Red = (200, 10, 50);

    private static IDataView Detection(MLContext ml, TempImages images)
    {
        images.Write("wide.png", 8, 4, (_, _) => Red);
        return DetectionDataView.Create(ml, [new DetectionRecord("wide.png", [new BoundingBox(2, 1, 6, 3)], ["cat"])], ["cat"]);
    }

    [TestMethod]
    public void LetterboxMovesBoxesAndWritesTheGeometry()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Detection(ml, images);
        var output = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.ResizeWithPadding("Image", 6, 6))
            .Fit(data).Transform(data);

        // 8×4 into 6×6: scale 0.75, content 6×3 at y offset (6 - 3) / 2 = 1; [2, 1, 6, 3] → [1.5, 1.75, 4.5, 3.25].
        CollectionAssert.AreEqual(new float[] { 1.5f, 1.75f, 4.5f, 3.25f }, Read.Column<float[]>(output, "Boxes")[0]);
        Assert.AreEqual(0.75f, Read.Column<float>(output, "LetterboxScale")[0]);
        Assert.AreEqual(0f, Read.Column<float>(output, "LetterboxOffsetX")[0]);
        Assert.AreEqual(1f, Read.Column<float>(output, "LetterboxOffsetY")[0]);
        Assert.AreEqual(8f, Read.Column<float>(output, "LetterboxSourceWidth")[0]);
        Assert.AreEqual(4f, Read.Column<float>(output, "LetterboxSourceHeight")[0]);
        Assert.AreEqual(new ImageDataViewType(6, 6), output.Schema["Image"].Type);
        CollectionAssert.AreEqual(new uint[] { 1 }, Read.Column<uint[]>(output, "Labels")[0], "labels pass through");

        var image = Read.Images(output, "Image")[0];
        Assert.AreEqual((6, 6), (image.Width, image.Height));
        for (int x = 0; x < 6; x++)
        {
            Assert.AreEqual(((byte)114, (byte)114, (byte)114), image.Rgb(x, 0), "top padding");
            for (int y = 1; y <= 3; y++) Assert.AreEqual(Red, image.Rgb(x, y), "content");
            Assert.AreEqual(((byte)114, (byte)114, (byte)114), image.Rgb(x, 4), "bottom padding");
        }
    }

    [TestMethod]
    public void TopLeftAnchorAndPadColourFromOptions()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Detection(ml, images);
        var options = new ResizeWithPaddingEstimator.Options("Boxed", 6, 6, inputColumnName: "Image",
            anchor: LetterboxAnchor.TopLeft, padRed: 1, padGreen: 2, padBlue: 3, geometryColumnPrefix: "G");
        var output = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.ResizeWithPadding(options))
            .Fit(data).Transform(data);
        CollectionAssert.AreEqual(new float[] { 1.5f, 0.75f, 4.5f, 2.25f }, Read.Column<float[]>(output, "Boxes")[0]);
        Assert.AreEqual(0f, Read.Column<float>(output, "GOffsetY")[0]);
        var image = Read.Images(output, "Boxed")[0];
        Assert.AreEqual(Red, image.Rgb(0, 0));
        Assert.AreEqual(Red, image.Rgb(5, 2));
        Assert.AreEqual(((byte)1, (byte)2, (byte)3), image.Rgb(0, 3));
        Assert.AreEqual(((byte)1, (byte)2, (byte)3), image.Rgb(5, 5));
        Assert.AreEqual(8, Read.Images(output, "Image")[0].Width, "the input image column is kept");
    }

    [TestMethod]
    public void MaskIsResizedByNearestAndPaddedWithIgnore()
    {
        using var images = new TempImages();
        images.Write("wide.png", 8, 4, (_, _) => Red);
        var ml = new MLContext(seed: 1);
        // Left half class 1, right half class 2.
        var mask = Enumerable.Range(0, 32).Select(i => (byte)(i % 8 < 4 ? 1 : 2)).ToArray();
        var data = ml.Data.LoadFromEnumerable([new MaskedRow { ImagePath = "wide.png", Boxes = [], Mask = mask, MaskWidth = 8, MaskHeight = 4 }]);
        var options = new ResizeWithPaddingEstimator.Options("Image", 6, 6,
            maskColumnName: "Mask", maskWidthColumnName: "MaskWidth", maskHeightColumnName: "MaskHeight");
        var output = ml.Transforms.LoadImages("Image", images.Folder, "ImagePath")
            .Append(ml.Transforms.ResizeWithPadding(options)).Fit(data).Transform(data);
        // Columns 0..5 take source columns 0, 2, 3, 4, 6, 7 → classes 1, 1, 1, 2, 2, 2; rows 1..3 are content.
        byte[] pad = [255, 255, 255, 255, 255, 255], content = [1, 1, 1, 2, 2, 2];
        CollectionAssert.AreEqual(pad.Concat(content).Concat(content).Concat(content).Concat(pad).Concat(pad).ToArray(),
            Read.Column<byte[]>(output, "Mask")[0]);
        Assert.AreEqual(6, Read.Column<int>(output, "MaskWidth")[0]);
        Assert.AreEqual(6, Read.Column<int>(output, "MaskHeight")[0]);
        Assert.AreEqual(0, Read.Column<float[]>(output, "Boxes")[0].Length);

        // Back to 8×4: columns take content columns floor((x + 0.5)·6/8) = 0, 1, 1, 2, 3, 4, 4, 5 → the original mask.
        CollectionAssert.AreEqual(mask, LetterboxMapping.MapMaskToSource(Read.Column<byte[]>(output, "Mask")[0], 6, 6, 8, 4));
    }

    [TestMethod]
    public void ComposesWithExtractPixelsAndAPredictionEngine()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Detection(ml, images);
        var model = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.ResizeWithPadding("Image", 6, 6, boxesColumnName: null))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.Transforms.ScaleToMinusOneOne("Pixels"))
            .Fit(data);
        var output = model.Transform(data);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 3 * 6 * 6), output.Schema["Pixels"].Type, "known size: ApplyOnnxModel can follow");
        var pixels = Read.Column<float[]>(output, "Pixels")[0];
        Assert.AreEqual(114 / 127.5f - 1, pixels[0], 1e-6f, "R plane, (0, 0) is padding");
        Assert.AreEqual(200 / 127.5f - 1, pixels[6], 1e-6f, "R plane, (0, 1) is content");

        // The row-to-row path (prediction engines) gives the same geometry.
        var engine = ml.Model.CreatePredictionEngine<ScoringInput, ScoringOutput>(model);
        var prediction = engine.Predict(new ScoringInput { ImagePath = "wide.png" });
        Assert.AreEqual(0.75f, prediction.LetterboxScale);
        Assert.AreEqual(1f, prediction.LetterboxOffsetY);
        float[] predicted = [1.5f, 1.75f, 4.5f, 3.25f];
        LetterboxMapping.MapBoxesToSource(predicted, prediction.LetterboxScale, prediction.LetterboxOffsetX,
            prediction.LetterboxOffsetY, (int)prediction.LetterboxSourceWidth, (int)prediction.LetterboxSourceHeight);
        CollectionAssert.AreEqual(new float[] { 2, 1, 6, 3 }, predicted);

        // A second prediction with another image is computed afresh (the engine's row position moves on).
        images.Write("tall.png", 3, 6, (_, _) => Red);
        var tall = engine.Predict(new ScoringInput { ImagePath = "tall.png" });
        // 3×6 into 6×6: scale 1, content 3×6 at x offset (6 - 3) / 2 = 1.
        Assert.AreEqual((1f, 1f, 0f, 3f, 6f), (tall.LetterboxScale, tall.LetterboxOffsetX, tall.LetterboxOffsetY, tall.LetterboxSourceWidth, tall.LetterboxSourceHeight));
    }

    private sealed class ScoringInput
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class ScoringOutput
    {
        public float LetterboxScale { get; set; }
        public float LetterboxOffsetX { get; set; }
        public float LetterboxOffsetY { get; set; }
        public float LetterboxSourceWidth { get; set; }
        public float LetterboxSourceHeight { get; set; }
    }

    [TestMethod]
    public void WrongColumnsFailAtFitNamingThem()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Detection(ml, images);
        var load = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath);

        var e = Assert.ThrowsExactly<ArgumentException>(() => load.Append(ml.Transforms.ResizeWithPadding("Out", 6, 6, "Img")).Fit(data));
        StringAssert.StartsWith(e.Message, "ResizeWithPadding: input column 'Img' (image) was not found; it must be an image (MLImage, for example the output of LoadImages).");
        e = Assert.ThrowsExactly<ArgumentException>(() => load.Append(ml.Transforms.ResizeWithPadding("Out", 6, 6, DetectionColumns.ImagePath)).Fit(data));
        Assert.AreEqual("ResizeWithPadding: input column 'ImagePath' (image) is String, but it must be an image (MLImage, for example the output of LoadImages).", e.Message);
        e = Assert.ThrowsExactly<ArgumentException>(() => load.Append(ml.Transforms.ResizeWithPadding("Image", 6, 6, boxesColumnName: "Labels")).Fit(data));
        StringAssert.StartsWith(e.Message, "ResizeWithPadding: input column 'Labels' (boxes) is Vector<Key<UInt32>>, but it must be a vector of Single holding 4 values");
        var noBoxes = ml.Transforms.DropColumns("Boxes");
        e = Assert.ThrowsExactly<ArgumentException>(() => load.Append(noBoxes).Append(ml.Transforms.ResizeWithPadding("Image", 6, 6)).Fit(data));
        StringAssert.StartsWith(e.Message, "ResizeWithPadding: input column 'Boxes' (boxes) was not found");
    }

    [TestMethod]
    public void SavingExplainsWhatToDoInstead()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Detection(ml, images);
        var model = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.ResizeWithPadding("Image", 6, 6)).Fit(data);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(model, data.Schema, Path.Combine(images.Folder, "m.zip")));
        StringAssert.StartsWith(e.Message, "ResizeWithPadding cannot be saved with mlContext.Model.Save");
        StringAssert.Contains(e.Message, "append mlContext.Transforms.ResizeWithPadding(...) again after loading");
    }

    [TestMethod]
    public void OptionsAreCheckedWhenConstructed()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ResizeWithPaddingEstimator.Options("Image", 0, 6));
        StringAssert.Contains(e.Message, "Target size 0×6 must be positive.");
        var m = Assert.ThrowsExactly<ArgumentException>(() => new ResizeWithPaddingEstimator.Options("Image", 6, 6, maskColumnName: "Mask"));
        StringAssert.StartsWith(m.Message, "Mask column 'Mask' needs maskWidthColumnName and maskHeightColumnName");
        m = Assert.ThrowsExactly<ArgumentException>(() => new ResizeWithPaddingEstimator.Options("Boxes", 6, 6));
        StringAssert.StartsWith(m.Message, "Column 'Boxes' is named for two different outputs");
    }
}
