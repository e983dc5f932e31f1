namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Where a <c>SourceWidth×SourceHeight</c> image lands inside a <c>TargetWidth×TargetHeight</c> letterbox:
/// scaled by <see cref="Scale"/> = min(TW/SW, TH/SH) to <c>ContentWidth×ContentHeight</c> = round(S·scale) and placed
/// at (<see cref="OffsetX"/>, <see cref="OffsetY"/>). A source point p maps to p·Scale + offset; the pixel content is
/// resized to the rounded content size, so the two agree to within half a pixel at the far edge (as in YOLO's letterbox).
/// </summary>
internal readonly record struct LetterboxGeometry(
    int SourceWidth, int SourceHeight, int TargetWidth, int TargetHeight,
    float Scale, int ContentWidth, int ContentHeight, int OffsetX, int OffsetY)
{
    public static LetterboxGeometry Compute(int sourceWidth, int sourceHeight, int targetWidth, int targetHeight, bool centred)
    {
        if (sourceWidth <= 0 || sourceHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(sourceWidth), $"Image size {sourceWidth}×{sourceHeight} must be positive.");
        if (targetWidth <= 0 || targetHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(targetWidth), $"Target size {targetWidth}×{targetHeight} must be positive.");
        float scale = Math.Min((float)targetWidth / sourceWidth, (float)targetHeight / sourceHeight);
        int cw = Math.Clamp((int)MathF.Round(sourceWidth * scale), 1, targetWidth);
        int ch = Math.Clamp((int)MathF.Round(sourceHeight * scale), 1, targetHeight);
        int ox = centred ? (targetWidth - cw) / 2 : 0;
        int oy = centred ? (targetHeight - ch) / 2 : 0;
        return new LetterboxGeometry(sourceWidth, sourceHeight, targetWidth, targetHeight, scale, cw, ch, ox, oy);
    }

    /// <summary>Source pixels → letterbox pixels, in place.</summary>
    public void MapBoxesForward(Span<float> boxes) => BoxMath.ScaleAndOffset(boxes, Scale, Scale, OffsetX, OffsetY);

    /// <summary>Letterbox pixels → source pixels, in place, clipped to the source image.</summary>
    public void MapBoxesBack(Span<float> boxes)
    {
        BoxMath.UnscaleAndUnoffset(boxes, Scale, OffsetX, OffsetY);
        BoxMath.Clip(boxes, SourceWidth, SourceHeight);
    }
}
