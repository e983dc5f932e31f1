using System.Buffers.Binary;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Detection;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using SkiaSharp;

namespace MLNetExtensions.Tests.Data;

/// <summary>
/// <see cref="ImageFileIntegrity"/>, the structural check a streamed detection set's <c>Fit</c> makes instead of a
/// complete decode: it agrees with the decoder on whole files and on the sizes, refuses truncated and CRC-damaged
/// files with the row named, and leaves a file damaged only inside its compressed pixels to the worker that decodes it.
/// </summary>
[TestClass]
public sealed class ImageFileIntegrityTests
{
    /// <summary>A 96×64 colour gradient encoded as <paramref name="format"/>.</summary>
    private static byte[] Gradient(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(96, 64);
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 96; x++) bitmap.SetPixel(x, y, new SKColor((byte)(2 * x), (byte)(4 * y), (byte)(x ^ y)));
        using var data = bitmap.Encode(format, 95);
        return data.ToArray();
    }

    private static string Message(string path, string problem)
        => $"Image '{path}' is truncated or damaged ({problem}); decoded, the rest would be read as grey. " +
           "Download or export the file again, or remove its row.";

    [TestMethod]
    public void WholeFilesPassWithTheDecodersSizeAndTruncatedOnesFailAsTheDecoderDoes()
    {
        using var temp = new TempFolder();
        foreach (var (format, name) in new[] { (SKEncodedImageFormat.Jpeg, "a.jpg"), (SKEncodedImageFormat.Png, "a.png") })
        {
            var bytes = Gradient(format);
            var path = temp[name];
            Assert.AreEqual((96, 64), ImageFileIntegrity.Check(path, bytes));
            Assert.AreEqual(ImageFileDecoder.Check(path, bytes), ImageFileIntegrity.Check(path, bytes));
            for (int thirds = 1; thirds <= 2; thirds++)
            {
                var cut = bytes[..(bytes.Length * thirds / 3)];
                Assert.ThrowsExactly<InvalidDataException>(() => ImageFileDecoder.Check(path, cut), "the decoder refuses it too");
                var ex = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileIntegrity.Check(path, cut));
                StringAssert.StartsWith(ex.Message, $"Image '{path}' is truncated or damaged (");
                StringAssert.EndsWith(ex.Message, "Download or export the file again, or remove its row.");
            }
        }
        // The exact problems: a JPEG cut inside its scan data, a PNG cut inside a chunk.
        var jpeg = Gradient(SKEncodedImageFormat.Jpeg);
        var cutJpeg = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileIntegrity.Check("cut.jpg", jpeg[..(jpeg.Length * 2 / 3)]));
        Assert.AreEqual(Message("cut.jpg", "no end-of-image marker follows its scan data: the file ends before all its pixels"), cutJpeg.Message);
        var png = Gradient(SKEncodedImageFormat.Png);
        int cutAt = png.Length - 20;   // inside IDAT's CRC or IEND
        var cutPng = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileIntegrity.Check("cut.png", png[..cutAt]));
        StringAssert.StartsWith(cutPng.Message, "Image 'cut.png' is truncated or damaged (");

        // Bytes some writers append after a JPEG's end-of-image marker are allowed, as the decoder allows them.
        byte[] trailing = [.. jpeg, 0, 0, 0x41, 0x42];
        Assert.AreEqual(ImageFileDecoder.Check("t.jpg", trailing), ImageFileIntegrity.Check("t.jpg", trailing));
        // Files of the fixtures (RGBA, 16-bit grey, CMYK, EXIF-rotated) pass with the decoder's sizes.
        foreach (var fixture in new[] { "rgba.png", "gray16.png", "cmyk.jpg", "exif6.jpg" })
        {
            var file = File.ReadAllBytes(TempFolder.Fixture(Path.Combine("Decoding", fixture)));
            Assert.AreEqual(ImageFileDecoder.Check(fixture, file), ImageFileIntegrity.Check(fixture, file), fixture);
        }
    }

    [TestMethod]
    public void APngWithAChangedByteFailsOnItsCrc()
    {
        var png = Gradient(SKEncodedImageFormat.Png);
        int idat = IndexOf(png, "IDAT"u8) - 4;
        png[idat + 8 + 10] ^= 0x5A;   // a byte of the compressed data
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileIntegrity.Check("bit.png", png));
        Assert.AreEqual(Message("bit.png", $"chunk 'IDAT' at byte {idat} has a wrong CRC (corrupt file)"), ex.Message);
    }

    [TestMethod]
    public void AStreamedSetNamesTheRowOfATruncatedFileAtFit()
    {
        using var temp = new TempFolder();
        var good = temp["good.png"];
        File.WriteAllBytes(good, Gradient(SKEncodedImageFormat.Png));
        var jpeg = Gradient(SKEncodedImageFormat.Jpeg);
        var cut = temp["cut.jpg"];
        File.WriteAllBytes(cut, jpeg[..(jpeg.Length * 2 / 3)]);
        var ml = new MLContext(1);
        var data = DetectionDataView.Create(ml, [new(good, [new BoundingBox(0, 0, 4, 4)], ["a"]), new(cut, [new BoundingBox(1, 1, 30, 30)], ["a"])], ["a"]);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => DetectionTrainingSet.Create(ml, data, new NetworkInput(8, 8, false),
            DetectionColumns.ImagePath, DetectionColumns.Boxes, DetectionColumns.Labels, holdPixels: false));
        Assert.AreEqual("Row 1 of the training data: " + Message(cut, "no end-of-image marker follows its scan data: the file ends before all its pixels"), ex.Message);
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void APngDamagedOnlyInsideItsPixelDataFailsTheStreamedFitWithItsRowNamed()
    {
        // A PNG whose image data stop halfway, re-wrapped with a correct CRC: whole to the structural check, refused by
        // the decoder when a worker reads it.
        var ml = new MLContext(1);
        using var temp = new TempFolder();
        var copies = Training.DetectionBatchStreamTests.CopiedTrainingImages(ml, temp, 8);
        const int damagedRow = 5;
        var damaged = HalveImageData(File.ReadAllBytes(copies[damagedRow].ImagePath));
        File.WriteAllBytes(copies[damagedRow].ImagePath, damaged);
        Assert.AreEqual(ImageHeader.ReadSize("x.png", damaged), ImageFileIntegrity.Check("x.png", damaged));
        Assert.ThrowsExactly<InvalidDataException>(() => ImageFileDecoder.Check("x.png", damaged));

        var data = DetectionDataView.Create(ml, copies, SyntheticShapesDataset.ClassNames);
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
        {
            MaxSteps = 4, BatchSize = 4, WarmupSteps = 0, EnableCheckpoints = false, PixelCacheBytes = 0, DataWorkers = 1,
        };
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainSsdDetector(options).Fit(data));
        StringAssert.StartsWith(ex.Message, $"Row {damagedRow} of the training data: image '{copies[damagedRow].ImagePath}' cannot be decoded while training (InvalidDataException: Image '{copies[damagedRow].ImagePath}' is truncated or damaged (");
        StringAssert.EndsWith(ex.Message, "It passed the check when training started, so it changed since or its compressed pixels are damaged: restore the file, or drop the row and train again.");
    }

    /// <summary>The PNG with its image data cut to half (one IDAT chunk of the first half of the compressed stream, its
    /// CRC computed again), every other chunk as it was.</summary>
    internal static byte[] HalveImageData(byte[] png)
    {
        var output = new MemoryStream();
        output.Write(png, 0, 8);
        bool written = false;
        var compressed = PngChunks.Read(png, "source").CompressedData;
        for (int pos = 8; pos < png.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            var type = png.AsSpan(pos + 4, 4);
            if (type.SequenceEqual("IDAT"u8))
            {
                if (!written) WriteChunk(output, "IDAT"u8, compressed.AsSpan(0, compressed.Length / 2));
                written = true;
            }
            else output.Write(png, pos, 12 + length);
            pos += 12 + length;
        }
        return output.ToArray();
    }

    private static void WriteChunk(Stream s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length); s.Write(word);
        s.Write(type); s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.OfChunk(type, data)); s.Write(word);
    }

    private static int IndexOf(byte[] bytes, ReadOnlySpan<byte> what) => bytes.AsSpan().IndexOf(what);
}
