using System.Buffers.Binary;
using System.IO.Compression;
using MLNetExtensions.Data.Masks;

namespace MLNetExtensions.Tests.Data;

[TestClass]
public sealed class SegmentationMaskTests
{
    private const int W = 13, H = 7; // the PIL fixtures' size (TestData/Masks/make_fixtures.py)

    // The patterns make_fixtures.py drew.
    private static byte Palette8(int x, int y) => (byte)((x + y) % 5 == 0 ? 255 : (x * 7 + y * 13) % 22);
    private static byte Small(int x, int y, int bits) => (byte)((x + 2 * y) % (1 << bits));
    private static byte Gray(int x, int y) => (byte)((x * x * 5 + y * 37) % 256);

    private static byte[] Pattern(Func<int, int, byte> f, int w = W, int h = H)
    {
        var p = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                p[y * w + x] = f(x, y);
        return p;
    }

    [TestMethod]
    public void VocColormapHasTheDevkitColours()
    {
        Assert.AreEqual(((byte)0, (byte)0, (byte)0), VocColormap.GetColor(0));
        Assert.AreEqual(((byte)128, (byte)0, (byte)0), VocColormap.GetColor(1));      // aeroplane
        Assert.AreEqual(((byte)0, (byte)128, (byte)0), VocColormap.GetColor(2));      // bicycle
        Assert.AreEqual(((byte)192, (byte)128, (byte)128), VocColormap.GetColor(15)); // person
        Assert.AreEqual(((byte)0, (byte)64, (byte)128), VocColormap.GetColor(20));    // tvmonitor
        Assert.AreEqual(((byte)224, (byte)224, (byte)192), VocColormap.GetColor(255)); // void
        for (int i = 0; i < 256; i++)
        {
            var (r, g, b) = VocColormap.GetColor((byte)i);
            Assert.IsTrue(VocColormap.TryGetIndex(r, g, b, out var back));
            Assert.AreEqual(i, back);
        }
        Assert.IsFalse(VocColormap.TryGetIndex(10, 20, 30, out _));
    }

    [TestMethod]
    public void Crc32MatchesKnownValues()
    {
        // The IEND chunk's CRC every PNG ends with, and the CRC-32 check value of "123456789" split into type and data.
        Assert.AreEqual(0xAE426082u, Crc32.OfChunk("IEND"u8, []));
        Assert.AreEqual(0xCBF43926u, Crc32.OfChunk("1234"u8, "56789"u8));
    }

    [TestMethod]
    public void WriteThenReadGivesTheSameIndices()
    {
        using var dir = new TempFolder();
        var mask = new SegmentationMask(W, H, Pattern(Palette8));
        mask.Save(dir["m.png"]);
        var back = SegmentationMask.CreateFromFile(dir["m.png"]);
        Assert.AreEqual(W, back.Width);
        Assert.AreEqual(H, back.Height);
        CollectionAssert.AreEqual(mask.Pixels, back.Pixels);
    }

    [TestMethod]
    public void WrittenPngIsAn8BitPaletteImageWithTheVocColormap()
    {
        var bytes = new SegmentationMask(W, H, Pattern(Palette8)).EncodePng();
        CollectionAssert.AreEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, bytes[..8]);
        Assert.AreEqual("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.AreEqual(W, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.AreEqual(H, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.AreEqual(8, bytes[24]); // bit depth
        Assert.AreEqual(3, bytes[25]); // colour type: palette
        Assert.AreEqual("PLTE", System.Text.Encoding.ASCII.GetString(bytes, 37, 4));
        Assert.AreEqual(768, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(33)));
        CollectionAssert.AreEqual(VocColormap.Palette.ToArray(), bytes.AsSpan(41, 768).ToArray());
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0, 0, 73, 69, 78, 68, 0xAE, 0x42, 0x60, 0x82 }, bytes[^12..]);
    }

    [TestMethod]
    public void ReadsPilPalettePngsOf8And4And2And1Bits()
    {
        CollectionAssert.AreEqual(Pattern(Palette8), Read("pil_palette8.png").Pixels);
        foreach (int bits in new[] { 4, 2, 1 })
            CollectionAssert.AreEqual(Pattern((x, y) => Small(x, y, bits)), Read($"pil_palette{bits}.png").Pixels, $"{bits} bits");
    }

    [TestMethod]
    public void ReadsPilGrayscalePngAsValues()
    {
        // PIL filters grayscale rows adaptively: this file uses filter types 0, 2 (Up) and 4 (Paeth).
        CollectionAssert.AreEqual(Pattern(Gray), Read("pil_gray8.png").Pixels);
    }

    [TestMethod]
    public void ReadsRgbImageInVocColoursThroughTheColormap()
        => CollectionAssert.AreEqual(Pattern(Palette8), Read("pil_rgb_voc.png").Pixels);

    [TestMethod]
    public void RgbColourOutsideTheColormapIsAnErrorNamingFilePixelAndColour()
    {
        var path = TempFolder.Fixture("Masks/pil_rgb_not_voc.png");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(path));
        StringAssert.Contains(e.Message, $"'{path}': pixel (x=4, y=2) has colour (10, 20, 30), which is not in the Pascal VOC colormap");
        StringAssert.Contains(e.Message, "Save masks as palette PNGs");
    }

    [TestMethod]
    public void SixteenBitGrayscaleIsRefusedWithWhatToDo()
    {
        var path = TempFolder.Fixture("Masks/pil_gray16.png");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(path));
        Assert.AreEqual($"'{path}' is a 16-bit grayscale PNG; masks hold class indices 0-255. Save it as an 8-bit grayscale or palette PNG.", e.Message);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(4)]
    public void UndoesEachFilterType(int filter)
    {
        // A smooth pattern, and random bytes, which hit Paeth's ties (left, above and upper-left equally near) and
        // the byte wrap-around of every filter.
        var random = new byte[64 * 33];
        new Random(42).NextBytes(random);
        foreach (var (w, h, values) in new[] { (29, 11, Pattern(Gray, 29, 11)), (64, 33, random) })
        {
            using var dir = new TempFolder();
            File.WriteAllBytes(dir["f.png"], TestPng.Grayscale(w, h, values, (_, _) => filter, interlaced: false));
            CollectionAssert.AreEqual(values, SegmentationMask.CreateFromFile(dir["f.png"]).Pixels, $"{w}x{h}");
        }
    }

    [TestMethod]
    public void UndoesMixedFiltersAndAdam7Interlacing()
    {
        // 29x11 has passes of every shape, including empty ones for narrow images' late passes.
        foreach (var (w, h) in new[] { (29, 11), (3, 2), (1, 1) })
        {
            var values = Pattern(Gray, w, h);
            using var dir = new TempFolder();
            File.WriteAllBytes(dir["i.png"], TestPng.Grayscale(w, h, values, (pass, row) => (pass + row) % 5, interlaced: true));
            CollectionAssert.AreEqual(values, SegmentationMask.CreateFromFile(dir["i.png"]).Pixels, $"{w}x{h}");
        }
    }

    [TestMethod]
    public void RgbPngsOfTheEncoderDecodeToTheSamePixelsThroughMLImage()
    {
        int w = 37, h = 5;
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 31 % 251);
        using var dir = new TempFolder();
        File.WriteAllBytes(dir["rgb.png"], PngEncoder.EncodeRgb(w, h, rgb));
        using var image = Microsoft.ML.Data.MLImage.CreateFromFile(dir["rgb.png"]);
        Assert.AreEqual((w, h), (image.Width, image.Height));
        Assert.AreEqual(Microsoft.ML.Data.MLPixelFormat.Bgra32, image.PixelFormat);
        var px = image.Pixels;
        for (int p = 0; p < w * h; p++)
            CollectionAssert.AreEqual(new[] { rgb[3 * p + 2], rgb[3 * p + 1], rgb[3 * p], (byte)255 }, px.Slice(4 * p, 4).ToArray(), $"pixel {p}");
    }

    [TestMethod]
    public void CorruptCrcIsAnErrorNamingTheChunk()
    {
        using var dir = new TempFolder();
        var bytes = new SegmentationMask(W, H, Pattern(Palette8)).EncodePng();
        bytes[41] ^= 0xFF; // first palette byte
        File.WriteAllBytes(dir["bad.png"], bytes);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(dir["bad.png"]));
        Assert.AreEqual($"'{dir["bad.png"]}' is not a readable PNG: chunk 'PLTE' at byte 33 has a wrong CRC (corrupt file). Re-save the file as PNG.", e.Message);
    }

    [TestMethod]
    public void TruncatedFileIsAnError()
    {
        using var dir = new TempFolder();
        var bytes = new SegmentationMask(W, H, Pattern(Palette8)).EncodePng();
        File.WriteAllBytes(dir["cut.png"], bytes[..(bytes.Length - 20)]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(dir["cut.png"]));
        StringAssert.StartsWith(e.Message, $"'{dir["cut.png"]}' is not a readable PNG: chunk 'IDAT' at byte");
        StringAssert.Contains(e.Message, "past the end of the file (truncated file?)");
    }

    [TestMethod]
    public void ShortImageDataIsAnError()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir["short.png"], TestPng.Grayscale(4, 4, new byte[16], (_, _) => 0, interlaced: false, dropLastRow: true));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(dir["short.png"]));
        Assert.AreEqual($"'{dir["short.png"]}' is not a readable PNG: its image data holds 15 bytes where 20 are needed (truncated file?). Re-save the file as PNG.", e.Message);
    }

    [TestMethod]
    public void UnknownFilterTypeIsAnError()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir["f5.png"], TestPng.Grayscale(4, 2, new byte[8], (_, row) => row == 1 ? 5 : 0, interlaced: false));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => SegmentationMask.CreateFromFile(dir["f5.png"]));
        StringAssert.Contains(e.Message, "scanline 1 has the unknown filter type 5");
    }

    [TestMethod]
    public void MissingFileAndWrongExtensionAreErrors()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-mask-" + Guid.NewGuid() + ".png");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => SegmentationMask.CreateFromFile(missing));
        Assert.AreEqual($"Mask file '{missing}' not found.", e.Message);
        Assert.ThrowsExactly<ArgumentException>(() => new SegmentationMask(2, 2).Save("mask.jpg"));
        Assert.ThrowsExactly<ArgumentException>(() => new SegmentationMask(2, 2, new byte[3]));
    }

    private static SegmentationMask Read(string fixture) => SegmentationMask.CreateFromFile(TempFolder.Fixture("Masks/" + fixture));

    /// <summary>A test-side PNG writer: 8-bit grayscale with a chosen filter per row, optionally Adam7-interlaced.
    /// It applies the filters forwards, so the reader's inverse filters are checked against an independent implementation.</summary>
    private static class TestPng
    {
        private static readonly (int X, int Y, int DX, int DY)[] Adam7 =
            [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

        public static byte[] Grayscale(int w, int h, byte[] values, Func<int, int, int> filterOf, bool interlaced, bool dropLastRow = false)
        {
            using var raw = new MemoryStream();
            var passes = interlaced ? Adam7 : [(0, 0, 1, 1)];
            for (int p = 0; p < passes.Length; p++)
            {
                var (x0, y0, dx, dy) = passes[p];
                int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
                if (pw == 0 || ph == 0) continue;
                var prior = new byte[pw];
                for (int r = 0; r < ph; r++)
                {
                    var row = new byte[pw];
                    for (int i = 0; i < pw; i++) row[i] = values[(y0 + r * dy) * w + x0 + i * dx];
                    int f = filterOf(p, r);
                    raw.WriteByte((byte)f);
                    for (int i = 0; i < pw; i++)
                    {
                        int a = i > 0 ? row[i - 1] : 0, b = prior[i], c = i > 0 ? prior[i - 1] : 0;
                        int predicted = f switch
                        {
                            1 => a,
                            2 => b,
                            3 => (a + b) / 2,
                            4 => Math.Abs(b - c) <= Math.Abs(a - c) && Math.Abs(b - c) <= Math.Abs(a + b - 2 * c) ? a
                                 : Math.Abs(a - c) <= Math.Abs(a + b - 2 * c) ? b : c,
                            _ => 0,
                        };
                        raw.WriteByte((byte)(row[i] - predicted));
                    }
                    prior = row;
                }
            }
            var data = raw.ToArray();
            if (dropLastRow) data = data[..(data.Length - (w + 1))];
            using var png = new MemoryStream();
            png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
            var ihdr = new byte[13];
            BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
            BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
            ihdr[8] = 8; ihdr[9] = 0; ihdr[12] = (byte)(interlaced ? 1 : 0);
            Chunk(png, "IHDR", ihdr);
            using var z = new MemoryStream();
            using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(data);
            Chunk(png, "IDAT", z.ToArray());
            Chunk(png, "IEND", []);
            return png.ToArray();
        }

        private static void Chunk(Stream s, string type, byte[] data)
        {
            var t = System.Text.Encoding.ASCII.GetBytes(type);
            var word = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(word, data.Length); s.Write(word);
            s.Write(t); s.Write(data);
            BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.OfChunk(t, data)); s.Write(word);
        }
    }
}
