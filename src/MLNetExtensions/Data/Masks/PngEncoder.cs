using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNetExtensions.Data.Masks;

/// <summary>
/// Writes 8-bit PNGs: palette images (colour type 3, one class index per pixel, as VOC masks) and RGB images
/// (colour type 2) for generated datasets.
/// </summary>
internal static class PngEncoder
{
    /// <summary>An 8-bit palette PNG of <paramref name="indices"/> (row-major) with the given RGB palette.</summary>
    public static byte[] EncodeIndexed(int width, int height, ReadOnlySpan<byte> indices, ReadOnlySpan<byte> palette)
    {
        if (indices.Length != width * height)
            throw new ArgumentException($"{indices.Length} indices for a {width}x{height} mask.", nameof(indices));
        using var file = Begin(width, height, PngContents.Indexed);
        WriteChunk(file, "PLTE"u8, palette);
        // Filter type 0 on every row: masks are long runs of one index, which deflate compresses best unfiltered
        // (the PNG specification recommends no filtering for palette images too).
        var rows = new byte[height * (width + 1)];
        for (int y = 0; y < height; y++)
            indices.Slice(y * width, width).CopyTo(rows.AsSpan(y * (width + 1) + 1));
        return End(file, rows, CompressionLevel.Optimal);
    }

    /// <summary>An 8-bit RGB PNG of <paramref name="rgb"/> (row-major, 3 bytes per pixel).</summary>
    public static byte[] EncodeRgb(int width, int height, ReadOnlySpan<byte> rgb)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"{rgb.Length} bytes for a {width}x{height} RGB image.", nameof(rgb));
        using var file = Begin(width, height, PngContents.Truecolor);
        // Filter type 1 (Sub, difference to the pixel on the left) on every row: cheap, and it shrinks gradients.
        int stride = width * 3 + 1;
        var rows = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            var src = rgb.Slice(y * width * 3, width * 3);
            var dst = rows.AsSpan(y * stride, stride);
            dst[0] = 1;
            for (int i = 0; i < src.Length; i++)
                dst[i + 1] = (byte)(src[i] - (i >= 3 ? src[i - 3] : 0));
        }
        // Fastest: generated images carry noise, which deflate barely compresses at any level.
        return End(file, rows, CompressionLevel.Fastest);
    }

    private static MemoryStream Begin(int width, int height, byte colorType)
    {
        var file = new MemoryStream();
        file.Write(PngChunks.Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)height);
        ihdr[8] = 8;                        // bit depth
        ihdr[9] = colorType;
        ihdr[10] = ihdr[11] = ihdr[12] = 0; // deflate, adaptive filtering, no interlace
        WriteChunk(file, "IHDR"u8, ihdr);
        return file;
    }

    private static byte[] End(MemoryStream file, byte[] filteredRows, CompressionLevel level)
    {
        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, level, leaveOpen: true))
            z.Write(filteredRows);
        WriteChunk(file, "IDAT"u8, idat.GetBuffer().AsSpan(0, (int)idat.Length));
        WriteChunk(file, "IEND"u8, []);
        return file.ToArray();
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.OfChunk(type, data));
        output.Write(word);
    }
}
