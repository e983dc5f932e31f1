using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Tests.Transforms;

[TestClass]
public sealed class CropImageTests
{
    /// <summary>10×10, pixel (x, y) = (R 10x, G 10y, B 7); four boxes with labels a, b, c, d, b and d difficult.</summary>
    private static IDataView Data(MLContext ml, TempImages images)
    {
        images.Write("grid.png", 10, 10, (x, y) => ((byte)(10 * x), (byte)(10 * y), 7));
        var record = new DetectionRecord("grid.png",
            [new BoundingBox(3, 3, 5, 5), new BoundingBox(0, 0, 4, 4), new BoundingBox(7, 7, 10, 10), new BoundingBox(8.5f, 0, 9, 1)],
            ["a", "b", "c", "d"], [false, true, false, true]);
        return DetectionDataView.Create(ml, [record], ["a", "b", "c", "d"]);
    }

    [TestMethod]
    public void CropClipsBoxesAndDropsThemWithTheirLabels()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var options = new CropImageEstimator.Options("Image", 2, 2, 6, 6, minVisibleFraction: 0.25f);
        var output = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.CropImage(options)).Fit(data).Transform(data);

        // a moves to [1, 1, 3, 3]; b keeps 2×2 of 4×4 = 0.25 → [0, 0, 2, 2]; c keeps 1/9 < 0.25; d is outside.
        CollectionAssert.AreEqual(new float[] { 1, 1, 3, 3, 0, 0, 2, 2 }, Read.Column<float[]>(output, "Boxes")[0]);
        CollectionAssert.AreEqual(new uint[] { 1, 2 }, Read.Column<uint[]>(output, "Labels")[0]);
        CollectionAssert.AreEqual(new[] { false, true }, Read.Column<bool[]>(output, "Difficult")[0]);
        Assert.AreEqual(new ImageDataViewType(6, 6), output.Schema["Image"].Type);
        CollectionAssert.AreEqual(new[] { "a", "b", "c", "d" }, DetectionDataView.GetClassNames(output.Schema, "Labels"), "class names survive");

        var image = Read.Images(output, "Image")[0];
        Assert.AreEqual((6, 6), (image.Width, image.Height));
        Assert.AreEqual(((byte)20, (byte)20, (byte)7), image.Rgb(0, 0));
        Assert.AreEqual(((byte)70, (byte)30, (byte)7), image.Rgb(5, 1));
        var records = DetectionDataView.ReadRecords(output);
        CollectionAssert.AreEqual(new[] { "a", "b" }, records[0].Labels.ToArray());
    }

    [TestMethod]
    public void DefaultVisibleFractionKeepsTheElevenPercentBox()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var output = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath)
            .Append(ml.Transforms.CropImage("Image", 2, 2, 6, 6)).Fit(data).Transform(data);
        // Default 0.1: c (1/9 visible) stays as [5, 5, 6, 6].
        CollectionAssert.AreEqual(new float[] { 1, 1, 3, 3, 0, 0, 2, 2, 5, 5, 6, 6 }, Read.Column<float[]>(output, "Boxes")[0]);
        CollectionAssert.AreEqual(new uint[] { 1, 2, 3 }, Read.Column<uint[]>(output, "Labels")[0]);
    }

    [TestMethod]
    public void MaskIsCroppedWithTheImage()
    {
        using var images = new TempImages();
        images.Write("grid.png", 10, 10, (x, y) => ((byte)(10 * x), (byte)(10 * y), 7));
        var ml = new MLContext(seed: 1);
        var mask = Enumerable.Range(0, 100).Select(i => (byte)(i % 10 + 10 * (i / 10))).ToArray(); // value 10y + x
        var data = ml.Data.LoadFromEnumerable([new MaskedRow { ImagePath = "grid.png", Boxes = [1, 1, 9, 9], Mask = mask, MaskWidth = 10, MaskHeight = 10 }]);
        var options = new CropImageEstimator.Options("Image", 3, 4, 2, 3, labelsColumnName: null, difficultColumnName: null, minVisibleFraction: 0,
            maskColumnName: "Mask", maskWidthColumnName: "MaskWidth", maskHeightColumnName: "MaskHeight");
        var output = ml.Transforms.LoadImages("Image", images.Folder, "ImagePath")
            .Append(ml.Transforms.CropImage(options)).Fit(data).Transform(data);
        CollectionAssert.AreEqual(new byte[] { 43, 44, 53, 54, 63, 64 }, Read.Column<byte[]>(output, "Mask")[0]);
        Assert.AreEqual(2, Read.Column<int>(output, "MaskWidth")[0]);
        Assert.AreEqual(3, Read.Column<int>(output, "MaskHeight")[0]);
        CollectionAssert.AreEqual(new float[] { 0, 0, 2, 3 }, Read.Column<float[]>(output, "Boxes")[0]);
    }

    [TestMethod]
    public void BadRowsAndColumnsGiveClearErrors()
    {
        using var images = new TempImages();
        var ml = new MLContext(seed: 1);
        var data = Data(ml, images);
        var load = ml.Transforms.LoadImages("Image", images.Folder, DetectionColumns.ImagePath);

        var tooBig = load.Append(ml.Transforms.CropImage("Image", 5, 5, 6, 6)).Fit(data).Transform(data);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Read.Column<float[]>(tooBig, "Boxes"));
        Assert.AreEqual("CropImage: row 0: the image is 10×10 but the crop [x=5, y=5, width=6, height=6] needs at least 11×11. Resize first or choose a smaller crop.", e.Message);

        var noDifficult = load.Append(ml.Transforms.DropColumns("Difficult")).Append(ml.Transforms.CropImage("Image", 0, 0, 4, 4));
        var a = Assert.ThrowsExactly<ArgumentException>(() => noDifficult.Fit(data));
        StringAssert.StartsWith(a.Message, "CropImage: input column 'Difficult' (per-box) was not found; it must be a vector with one value per box.");

        var wrongLabels = new MLContext(seed: 1).Data.LoadFromEnumerable([new MaskedRow { ImagePath = "grid.png", Boxes = [0, 0, 1, 1] }]);
        var mismatch = ml.Transforms.LoadImages("Image", images.Folder, "ImagePath")
            .Append(ml.Transforms.CopyColumns("Labels", "Mask"))
            .Append(ml.Transforms.CropImage(new CropImageEstimator.Options("Image", 0, 0, 4, 4, difficultColumnName: null)))
            .Fit(wrongLabels).Transform(wrongLabels);
        e = Assert.ThrowsExactly<InvalidDataException>(() => Read.Column<float[]>(mismatch, "Boxes"));
        Assert.AreEqual("CropImage: row 0: column 'Labels' has 0 values for 1 boxes; it must have one value per box.", e.Message);
    }
}
