namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Mask resampling: masks are class indices (one byte per pixel, row-major), so they are resized by nearest neighbour
/// (never blended) and every pixel that has no source pixel (padding) becomes <see cref="Data.SegmentationColumns.IgnoreIndex"/>.
/// The one place the letterbox/crop/flip math for masks lives, so readers, transforms and scorers agree.
/// </summary>
internal static class MaskOps
{
    /// <summary>
    /// Nearest-neighbour resize with half-pixel centres: destination pixel x takes source pixel
    /// floor((x + 0.5)·sw/dw), clamped (PyTorch's <c>nearest-exact</c>).
    /// </summary>
    public static byte[] ResizeNearest(ReadOnlySpan<byte> mask, int srcWidth, int srcHeight, int dstWidth, int dstHeight)
    {
        if (srcWidth <= 0 || srcHeight <= 0 || dstWidth <= 0 || dstHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(dstWidth), $"Cannot resize a {srcWidth}×{srcHeight} mask to {dstWidth}×{dstHeight}.");
        if (mask.Length != srcWidth * srcHeight)
            throw new ArgumentException($"{mask.Length} mask values is not {srcWidth}×{srcHeight}.", nameof(mask));
        var dst = new byte[dstWidth * dstHeight];
        var sx = NearestSource(srcWidth, dstWidth);
        var sy = NearestSource(srcHeight, dstHeight);
        for (int y = 0; y < dstHeight; y++)
        {
            int srcRow = sy[y] * srcWidth, dstRow = y * dstWidth;
            for (int x = 0; x < dstWidth; x++)
                dst[dstRow + x] = mask[srcRow + sx[x]];
        }
        return dst;
    }

    /// <summary>
    /// The mask as it lands in a letterboxed image: resized to the content size, placed at the offsets, the rest
    /// <paramref name="fill"/>. Result is <see cref="LetterboxGeometry.TargetWidth"/>×<see cref="LetterboxGeometry.TargetHeight"/>.
    /// </summary>
    public static byte[] Letterbox(ReadOnlySpan<byte> mask, int width, int height, LetterboxGeometry g, byte fill = Data.SegmentationColumns.IgnoreIndex)
    {
        var content = ResizeNearest(mask, width, height, g.ContentWidth, g.ContentHeight);
        var dst = PixelGrid.Filled(g.TargetWidth, g.TargetHeight, [fill]);
        PixelGrid.Paste(dst, g.TargetWidth, g.TargetHeight, content, g.ContentWidth, g.ContentHeight, 1, g.OffsetX, g.OffsetY);
        return dst;
    }

    /// <summary>The inverse of <see cref="Letterbox"/>: cuts the content region out of a target-size mask and resizes it
    /// back to the source size.</summary>
    public static byte[] FromLetterbox(ReadOnlySpan<byte> mask, LetterboxGeometry g)
    {
        var content = PixelGrid.Crop(mask, g.TargetWidth, g.TargetHeight, 1, new PixelRect(g.OffsetX, g.OffsetY, g.ContentWidth, g.ContentHeight));
        return ResizeNearest(content, g.ContentWidth, g.ContentHeight, g.SourceWidth, g.SourceHeight);
    }

    public static byte[] Crop(ReadOnlySpan<byte> mask, int width, int height, PixelRect rect)
        => PixelGrid.Crop(mask, width, height, 1, rect);

    public static byte[] FlipHorizontal(ReadOnlySpan<byte> mask, int width, int height)
        => PixelGrid.FlipHorizontal(mask, width, height, 1);

    private static int[] NearestSource(int srcSize, int dstSize)
    {
        var idx = new int[dstSize];
        double scale = (double)srcSize / dstSize;
        for (int d = 0; d < dstSize; d++)
            idx[d] = Math.Min((int)Math.Floor((d + 0.5) * scale), srcSize - 1);
        return idx;
    }
}
