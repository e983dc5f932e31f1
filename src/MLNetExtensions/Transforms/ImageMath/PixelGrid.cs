using System.Runtime.InteropServices;

namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Copy, crop, paste and flip on row-major interleaved byte grids (<c>channels</c> bytes per pixel): 4 for
/// BGRA/RGBA images, 1 for masks. Nothing here resamples; see <see cref="BilinearResize"/> and <see cref="MaskOps"/>.
/// </summary>
internal static class PixelGrid
{
    /// <summary>The pixels of <paramref name="rect"/>, which must lie inside the grid.</summary>
    public static byte[] Crop(ReadOnlySpan<byte> src, int width, int height, int channels, PixelRect rect)
    {
        if (rect.X < 0 || rect.Y < 0 || rect.Width <= 0 || rect.Height <= 0 || rect.Right > width || rect.Bottom > height)
            throw new ArgumentOutOfRangeException(nameof(rect), $"Crop {rect} is not inside a {width}×{height} grid.");
        var dst = new byte[rect.Width * rect.Height * channels];
        int rowBytes = rect.Width * channels;
        for (int y = 0; y < rect.Height; y++)
            src.Slice(((rect.Y + y) * width + rect.X) * channels, rowBytes).CopyTo(dst.AsSpan(y * rowBytes, rowBytes));
        return dst;
    }

    /// <summary>A <paramref name="width"/>×<paramref name="height"/> grid with every pixel set to <paramref name="pixel"/>.</summary>
    public static byte[] Filled(int width, int height, ReadOnlySpan<byte> pixel)
    {
        int channels = pixel.Length;
        var dst = new byte[width * height * channels];
        if (channels == 4) MemoryMarshal.Cast<byte, uint>(dst.AsSpan()).Fill(MemoryMarshal.Read<uint>(pixel));
        else if (channels == 1) dst.AsSpan().Fill(pixel[0]);
        else
            for (int i = 0; i < dst.Length; i += channels)
                pixel.CopyTo(dst.AsSpan(i, channels));
        return dst;
    }

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> with its top-left corner at (x, y); it must fit.</summary>
    public static void Paste(Span<byte> dst, int dstWidth, int dstHeight, ReadOnlySpan<byte> src, int srcWidth, int srcHeight, int channels, int x, int y)
    {
        if (x < 0 || y < 0 || x + srcWidth > dstWidth || y + srcHeight > dstHeight)
            throw new ArgumentOutOfRangeException(nameof(x), $"A {srcWidth}×{srcHeight} grid at ({x}, {y}) does not fit in {dstWidth}×{dstHeight}.");
        int rowBytes = srcWidth * channels;
        for (int r = 0; r < srcHeight; r++)
            src.Slice(r * rowBytes, rowBytes).CopyTo(dst.Slice(((y + r) * dstWidth + x) * channels, rowBytes));
    }

    /// <summary>The grid mirrored left-right.</summary>
    public static byte[] FlipHorizontal(ReadOnlySpan<byte> src, int width, int height, int channels)
    {
        var dst = src.ToArray();
        int rowBytes = width * channels;
        for (int y = 0; y < height; y++)
        {
            var row = dst.AsSpan(y * rowBytes, rowBytes);
            // Reversing whole pixels: 4-byte pixels as one uint each, 1-byte masks directly.
            if (channels == 4) MemoryMarshal.Cast<byte, uint>(row).Reverse();
            else if (channels == 1) row.Reverse();
            else
                for (int x = 0; x < width; x++)
                    src.Slice(y * rowBytes + x * channels, channels).CopyTo(row.Slice((width - 1 - x) * channels, channels));
        }
        return dst;
    }
}
