using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using SkiaSharp;

namespace MLNetExtensions.Tests.Data;

/// <summary>
/// Decode integrity: truncated or undecodable files fail named, in training and in scoring; the documented rules for
/// RGBA, CMYK, 16-bit and EXIF-rotated files (fixtures in TestData/Decoding, written with PIL) hold in both paths.
/// </summary>
[TestClass]
public sealed class ImageDecodingTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "Decoding", name);

    private static string TempFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "decode-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>A 64×64 colour gradient encoded as <paramref name="format"/>, cut to <paramref name="thirds"/> thirds of its bytes.</summary>
    private static string Truncated(string folder, SKEncodedImageFormat format, string name, int thirds = 1)
    {
        using var bitmap = new SKBitmap(64, 64);
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) bitmap.SetPixel(x, y, new SKColor((byte)(4 * x), (byte)(4 * y), (byte)(x ^ y)));
        using var data = bitmap.Encode(format, 95);
        var bytes = data.ToArray();
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes[..(bytes.Length * thirds / 3)]);
        return path;
    }

    [TestMethod]
    public void ATruncatedJpegOrPngOrAFileThatIsNoImageFailsWithItsNameAndWhatToDo()
    {
        var folder = TempFolder();
        // Cut to a third, the header itself is incomplete; cut to two thirds, the header reads and the pixels stop short
        // (what LoadImages decodes with no error, its last third grey).
        foreach (var (format, name) in new[] { (SKEncodedImageFormat.Jpeg, "cut.jpg"), (SKEncodedImageFormat.Png, "cut.png") })
            for (int thirds = 1; thirds <= 2; thirds++)
            {
                var path = Truncated(folder, format, $"{thirds}-{name}", thirds);
                var cut = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileDecoder.Check(path));
                Assert.AreEqual($"Image '{path}' is truncated or damaged (IncompleteInput: the file ends or breaks before all its pixels " +
                    "decode, and the rest would be read as grey). Download or export the file again, or remove its row.", cut.Message);
            }

        var text = Path.Combine(folder, "notes.png");
        File.WriteAllText(text, "not an image at all, only text");
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileDecoder.Check(text));
        Assert.AreEqual($"Image '{text}' is not an image that can be decoded (Unimplemented: not a JPEG, PNG, BMP, GIF, WebP or ICO file, " +
            "or its header is damaged). Convert it to JPEG or PNG, or remove its row.", ex.Message);
    }

    [TestMethod]
    public void TrainingNamesTheRowOfATruncatedImageAndScoringRefusesIt()
    {
        var folder = TempFolder();
        var good = Fixture("rgba.png");
        var jpeg = Truncated(folder, SKEncodedImageFormat.Jpeg, "cut.jpg", thirds: 2);
        var ml = new MLContext(1);
        var records = new List<DetectionRecord>
        {
            new(good, [new BoundingBox(0, 0, 4, 4)], ["a"]),
            new(jpeg, [new BoundingBox(1, 1, 30, 30)], ["a"]),
        };
        var data = DetectionDataView.Create(ml, records, ["a"]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => DetectionTrainingSet.Create(ml, data, new NetworkInput(8, 8, false),
            DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels));
        StringAssert.StartsWith(ex.Message, $"Row 1 of the training data: Image '{jpeg}' is truncated or damaged (IncompleteInput:");

        // Segmentation training checks its rows the same way.
        var maskPath = Path.Combine(folder, "mask.png");
        using (var mask = new SKBitmap(new SKImageInfo(64, 64, SKColorType.Gray8)))
        using (var png = mask.Encode(SKEncodedImageFormat.Png, 100))
            File.WriteAllBytes(maskPath, png.ToArray());
        var pairs = SegmentationDataView.Create(ml.Data, [new SegmentationRecord(Truncated(folder, SKEncodedImageFormat.Png, "seg.png", thirds: 2), maskPath)]);
        var seg = Assert.ThrowsExactly<InvalidDataException>(() => MLNetExtensions.Torch.Segmentation.SegmentationTrainingSet.Create(ml, pairs,
            new NetworkInput(8, 8, false), SegmentationColumns.ImagePath, SegmentationColumns.MaskPath, null));
        StringAssert.StartsWith(seg.Message, $"Row 0 of the training data: Image '{Path.Combine(folder, "seg.png")}' is truncated or damaged (IncompleteInput:");

        // Scoring's first step (every scoring chain reads the image's pixels and size with it) decodes the whole file too.
        var scored = Assert.ThrowsExactly<InvalidDataException>(() => ImagePixelsMapping.Map(new ImagePixelsInput { ImagePath = jpeg, Layout = "8x8x3" }, new ImagePixelsOutput()));
        StringAssert.StartsWith(scored.Message, $"Image '{jpeg}' is truncated or damaged (IncompleteInput:");
    }

    private sealed class PathRow { public string ImagePath = ""; }

    /// <summary>The (C, H, W) pixels of one file at its own size: as training reads them, and as scoring's pixel pipeline does.</summary>
    private static (byte[] Training, float[] Scoring) Pixels(string path, int width, int height)
    {
        var ml = new MLContext(1);
        var input = new NetworkInput(width, height, false);
        var row = DetectionDataView.Create(ml, [new DetectionRecord(path, [new BoundingBox(0, 0, 4, 4)], ["a"])], ["a"]);
        var training = DetectionTrainingSet.Create(ml, row, input, DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels).PixelsOf(0);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { ImagePath = path } });
        var scored = input.PixelPipeline(ml, nameof(PathRow.ImagePath), "Pixels").Fit(data).Transform(data);
        var scoring = scored.GetColumn<VBuffer<float>>("Pixels").Single().DenseValues().ToArray();
        return (training, scoring);
    }

    private static (float R, float G, float B) At(float[] chw, int width, int height, int x, int y)
    {
        int plane = width * height, i = y * width + x;
        return (chw[i], chw[plane + i], chw[2 * plane + i]);
    }

    [TestMethod]
    public void RgbaCmyk16BitAndExifFilesGiveTheDocumentedPixelsInTrainingAndInScoring()
    {
        foreach (var (name, w, h) in new[] { ("rgba.png", 8, 8), ("cmyk.jpg", 8, 8), ("gray16.png", 8, 8), ("exif6.jpg", 8, 4) })
        {
            ImageFileDecoder.Check(Fixture(name));   // all decode completely
            var (training, scoring) = Pixels(Fixture(name), w, h);
            CollectionAssert.AreEqual(training.Select(b => (float)b).ToArray(), scoring, $"{name}: training and scoring see the same pixels");
            Console.WriteLine($"{name}: " + string.Join(" ", Enumerable.Range(0, w).Select(x => At(scoring, w, h, x, 0))));
        }
        var rgba = Pixels(Fixture("rgba.png"), 8, 8).Scoring;
        Assert.AreEqual((255f, 0f, 0f), At(rgba, 8, 8, 0, 0), "opaque red stays red");
        Assert.AreEqual((255f, 255f, 255f), At(rgba, 8, 8, 4, 0), "fully transparent (stored green) is composited on white");
        var half = At(rgba, 8, 8, 6, 0);
        Assert.AreEqual((127f, 127f, 255f), half, "blue at alpha 128 is composited on white: (0·128 + 255·127) / 255 = 127 in red and green");

        var cmyk = Pixels(Fixture("cmyk.jpg"), 8, 8).Scoring;
        var red = At(cmyk, 8, 8, 3, 3);
        Assert.IsTrue(red.R >= 245 && red.G <= 10 && red.B <= 10, $"C=0 M=255 Y=255 K=0 is red, got {red}");

        var gray = Pixels(Fixture("gray16.png"), 8, 8).Scoring;
        Assert.AreEqual((200f, 200f, 200f), At(gray, 8, 8, 5, 5), "16-bit grey 200·257 becomes 8-bit 200 in all three channels");

        // EXIF orientation 6 (rotate 90° clockwise to display) is not applied: the stored 8×4 pixels, white left, black right.
        var exif = Pixels(Fixture("exif6.jpg"), 8, 4).Scoring;
        Assert.AreEqual(8 * 4 * 3, exif.Length);
        Assert.IsTrue(At(exif, 8, 4, 0, 0).R >= 250 && At(exif, 8, 4, 7, 3).R <= 5, "the stored orientation");
        Assert.AreEqual((8, 4), ImageFileDecoder.Check(Fixture("exif6.jpg")));
    }
}
