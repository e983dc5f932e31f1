namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Box geometry on flat <c>[xmin, ymin, xmax, ymax]</c> arrays in pixels (box i is elements 4i..4i+3), the layout of
/// <see cref="Data.DetectionColumns.Boxes"/>. Every image transform moves boxes through these functions so that the
/// pixels and the boxes cannot disagree.
/// </summary>
internal static class BoxMath
{
    /// <summary>x' = x·scaleX + offsetX, y' = y·scaleY + offsetY, in place.</summary>
    public static void ScaleAndOffset(Span<float> boxes, float scaleX, float scaleY, float offsetX, float offsetY)
    {
        for (int i = 0; i + 3 < boxes.Length; i += 4)
        {
            boxes[i] = boxes[i] * scaleX + offsetX;
            boxes[i + 1] = boxes[i + 1] * scaleY + offsetY;
            boxes[i + 2] = boxes[i + 2] * scaleX + offsetX;
            boxes[i + 3] = boxes[i + 3] * scaleY + offsetY;
        }
    }

    /// <summary>The inverse of <see cref="ScaleAndOffset"/> with one scale: x = (x' − offsetX) / scale, in place.
    /// Subtract-then-divide, so points that were mapped forward come back exactly when the arithmetic allows.</summary>
    public static void UnscaleAndUnoffset(Span<float> boxes, float scale, float offsetX, float offsetY)
    {
        for (int i = 0; i + 3 < boxes.Length; i += 4)
        {
            boxes[i] = (boxes[i] - offsetX) / scale;
            boxes[i + 1] = (boxes[i + 1] - offsetY) / scale;
            boxes[i + 2] = (boxes[i + 2] - offsetX) / scale;
            boxes[i + 3] = (boxes[i + 3] - offsetY) / scale;
        }
    }

    /// <summary>Mirrors boxes left-right in an image <paramref name="imageWidth"/> pixels wide, in place.</summary>
    public static void FlipHorizontal(Span<float> boxes, float imageWidth)
    {
        for (int i = 0; i + 3 < boxes.Length; i += 4)
        {
            float xmin = boxes[i];
            boxes[i] = imageWidth - boxes[i + 2];
            boxes[i + 2] = imageWidth - xmin;
        }
    }

    /// <summary>Clamps every coordinate into <c>[0, width] × [0, height]</c>, in place.</summary>
    public static void Clip(Span<float> boxes, float width, float height)
    {
        for (int i = 0; i + 3 < boxes.Length; i += 4)
        {
            boxes[i] = Math.Clamp(boxes[i], 0, width);
            boxes[i + 1] = Math.Clamp(boxes[i + 1], 0, height);
            boxes[i + 2] = Math.Clamp(boxes[i + 2], 0, width);
            boxes[i + 3] = Math.Clamp(boxes[i + 3], 0, height);
        }
    }

    /// <summary>
    /// Moves boxes into the frame of <paramref name="crop"/>, clips them to it, and keeps those that still have area
    /// and at least <paramref name="minVisibleFraction"/> of their original area inside the crop.
    /// </summary>
    /// <returns>The kept boxes (4 values each) and, for each, the index of the box it came from.</returns>
    public static (float[] Boxes, int[] Kept) Crop(ReadOnlySpan<float> boxes, PixelRect crop, float minVisibleFraction)
    {
        var kept = new List<int>();
        var result = new List<float>();
        for (int i = 0; i + 3 < boxes.Length; i += 4)
        {
            float x0 = boxes[i] - crop.X, y0 = boxes[i + 1] - crop.Y, x1 = boxes[i + 2] - crop.X, y1 = boxes[i + 3] - crop.Y;
            float area = Math.Max(0, x1 - x0) * Math.Max(0, y1 - y0);
            float cx0 = Math.Clamp(x0, 0, crop.Width), cy0 = Math.Clamp(y0, 0, crop.Height);
            float cx1 = Math.Clamp(x1, 0, crop.Width), cy1 = Math.Clamp(y1, 0, crop.Height);
            float visible = Math.Max(0, cx1 - cx0) * Math.Max(0, cy1 - cy0);
            // A box with no area inside the crop is always gone; otherwise the fraction decides.
            if (cx1 - cx0 <= 0 || cy1 - cy0 <= 0 || visible < minVisibleFraction * area)
                continue;
            kept.Add(i / 4);
            result.Add(cx0); result.Add(cy0); result.Add(cx1); result.Add(cy1);
        }
        return (result.ToArray(), kept.ToArray());
    }

    /// <summary>Intersection over union of box <paramref name="i"/> of <paramref name="boxes"/> and a rectangle.</summary>
    public static float IoU(ReadOnlySpan<float> boxes, int i, PixelRect rect)
    {
        float ax0 = boxes[4 * i], ay0 = boxes[4 * i + 1], ax1 = boxes[4 * i + 2], ay1 = boxes[4 * i + 3];
        float iw = Math.Min(ax1, rect.Right) - Math.Max(ax0, rect.X);
        float ih = Math.Min(ay1, rect.Bottom) - Math.Max(ay0, rect.Y);
        if (iw <= 0 || ih <= 0) return 0;
        float inter = iw * ih;
        float union = Math.Max(0, ax1 - ax0) * Math.Max(0, ay1 - ay0) + (float)rect.Width * rect.Height - inter;
        return union <= 0 ? 0 : inter / union;
    }
}

/// <summary>An integer pixel rectangle: top-left corner and size.</summary>
internal readonly record struct PixelRect(int X, int Y, int Width, int Height)
{
    public int Right => X + Width;
    public int Bottom => Y + Height;
    public override string ToString() => $"[x={X}, y={Y}, width={Width}, height={Height}]";
}
