using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Maps results on a letterboxed image back to the source image, using the geometry columns that
/// <see cref="ResizeWithPaddingEstimator"/> writes (scale, offsets, source size).
/// </summary>
public static class LetterboxMapping
{
    /// <summary>Boxes (N×4, letterbox pixels) to source pixels, in place: (v − offset) / scale, clipped to the source image.</summary>
    public static void MapBoxesToSource(Span<float> boxes, float scale, float offsetX, float offsetY, int sourceWidth, int sourceHeight)
    {
        if (!(scale > 0))
            throw new ArgumentOutOfRangeException(nameof(scale), $"Letterbox scale {scale} must be positive.");
        if (boxes.Length % 4 != 0)
            throw new ArgumentException($"{boxes.Length} values is not a whole number of boxes (4 values each).", nameof(boxes));
        BoxMath.UnscaleAndUnoffset(boxes, scale, offsetX, offsetY);
        BoxMath.Clip(boxes, sourceWidth, sourceHeight);
    }

    /// <summary>
    /// A mask predicted on the <paramref name="targetWidth"/>×<paramref name="targetHeight"/> letterbox back to the
    /// <paramref name="sourceWidth"/>×<paramref name="sourceHeight"/> source: the content region (recomputed exactly as
    /// the transform placed it) is cut out and resized by nearest neighbour.
    /// </summary>
    public static byte[] MapMaskToSource(ReadOnlySpan<byte> mask, int targetWidth, int targetHeight,
        int sourceWidth, int sourceHeight, LetterboxAnchor anchor = LetterboxAnchor.Center)
    {
        if (mask.Length != targetWidth * targetHeight)
            throw new ArgumentException($"{mask.Length} mask values is not {targetWidth}×{targetHeight}.", nameof(mask));
        var g = LetterboxGeometry.Compute(sourceWidth, sourceHeight, targetWidth, targetHeight, anchor == LetterboxAnchor.Center);
        return MaskOps.FromLetterbox(mask, g);
    }
}
