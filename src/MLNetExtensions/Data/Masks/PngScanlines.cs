using System.IO.Compression;

namespace MLNetExtensions.Data.Masks;

/// <summary>
/// Inflates PNG image data, undoes the five scanline filters and Adam7 interlacing, and unpacks samples of
/// single-channel images (palette or grayscale, 1 to 8 bits) into one byte per pixel.
/// </summary>
internal static class PngScanlines
{
    // Adam7 passes: x start, y start, x step, y step.
    private static readonly (int X, int Y, int DX, int DY)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static readonly (int X, int Y, int DX, int DY)[] Progressive = [(0, 0, 1, 1)];

    /// <summary>Row-major samples, one byte per pixel. Only for 1-channel images of bit depth 8 or less.</summary>
    public static byte[] DecodeSamples(PngContents png, string source)
    {
        if (png.Channels != 1 || png.BitDepth > 8)
            throw new ArgumentException("Only single-channel images of up to 8 bits are unpacked here.", nameof(png));
        var passes = png.Interlaced ? Adam7 : Progressive;
        long expected = 0;
        foreach (var p in passes)
        {
            var (w, h) = PassSize(png, p);
            if (w > 0 && h > 0) expected += h * (1 + RowBytes(w, png.BitDepth));
        }
        if (expected > int.MaxValue)
            throw PngChunks.Invalid(source, $"its size {png.Width}x{png.Height} is too large for a mask");
        var raw = Inflate(png.CompressedData, (int)expected, source);

        var samples = new byte[checked(png.Width * png.Height)];
        int offset = 0;
        foreach (var p in passes)
        {
            var (w, h) = PassSize(png, p);
            if (w == 0 || h == 0) continue;
            int rowBytes = RowBytes(w, png.BitDepth);
            Unfilter(raw.AsSpan(offset, h * (1 + rowBytes)), rowBytes, bytesPerPixel: 1, source);
            for (int y = 0; y < h; y++)
            {
                var row = raw.AsSpan(offset + y * (1 + rowBytes) + 1, rowBytes);
                int outRow = (p.Y + y * p.DY) * png.Width;
                for (int x = 0; x < w; x++)
                    samples[outRow + p.X + x * p.DX] = Sample(row, x, png.BitDepth);
            }
            offset += h * (1 + rowBytes);
        }
        return samples;
    }

    private static (int W, int H) PassSize(PngContents png, (int X, int Y, int DX, int DY) p)
        => ((png.Width - p.X + p.DX - 1) / p.DX, (png.Height - p.Y + p.DY - 1) / p.DY);

    private static int RowBytes(int width, int bitDepth) => (int)(((long)width * bitDepth + 7) / 8);

    private static byte Sample(ReadOnlySpan<byte> row, int x, int bitDepth)
    {
        if (bitDepth == 8) return row[x];
        int bit = x * bitDepth;
        int shift = 8 - bitDepth - (bit & 7);
        return (byte)((row[bit >> 3] >> shift) & ((1 << bitDepth) - 1));
    }

    private static byte[] Inflate(byte[] compressed, int expected, string source)
    {
        var raw = new byte[expected];
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            int read = z.ReadAtLeast(raw, expected, throwOnEndOfStream: false);
            if (read < expected)
                throw PngChunks.Invalid(source, $"its image data holds {read} bytes where {expected} are needed (truncated file?)");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith($"'{source}'", StringComparison.Ordinal))
        {
            throw PngChunks.Invalid(source, $"its image data does not inflate ({e.Message})");
        }
        return raw;
    }

    /// <summary>Undoes the filters in place. Each row is a filter-type byte followed by <paramref name="rowBytes"/> bytes.</summary>
    internal static void Unfilter(Span<byte> rows, int rowBytes, int bytesPerPixel, string source)
    {
        int stride = rowBytes + 1;
        int height = rows.Length / stride;
        Span<byte> prior = rowBytes <= 4096 ? stackalloc byte[rowBytes] : new byte[rowBytes];
        prior.Clear(); // the row above the first row is all zeros
        for (int y = 0; y < height; y++)
        {
            int filter = rows[y * stride];
            var row = rows.Slice(y * stride + 1, rowBytes);
            switch (filter)
            {
                case 0: break;
                case 1: // Sub: add the byte one pixel to the left
                    for (int i = bytesPerPixel; i < rowBytes; i++) row[i] += row[i - bytesPerPixel];
                    break;
                case 2: // Up: add the byte above
                    for (int i = 0; i < rowBytes; i++) row[i] += prior[i];
                    break;
                case 3: // Average: add the floor of the mean of left and above
                    for (int i = 0; i < rowBytes; i++)
                        row[i] += (byte)(((i >= bytesPerPixel ? row[i - bytesPerPixel] : 0) + prior[i]) >> 1);
                    break;
                case 4: // Paeth: add whichever of left, above, upper-left is nearest to left + above - upper-left
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bytesPerPixel ? row[i - bytesPerPixel] : 0;
                        int c = i >= bytesPerPixel ? prior[i - bytesPerPixel] : 0;
                        row[i] += Paeth(a, prior[i], c);
                    }
                    break;
                default:
                    throw PngChunks.Invalid(source, $"scanline {y} has the unknown filter type {filter}");
            }
            row.CopyTo(prior);
        }
    }

    internal static byte Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }
}
