namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Samples crop rectangles for detection augmentation. Two policies:
/// <list type="bullet">
/// <item>min scale: side lengths are a random fraction in [minScale, 1] of the image's, with the aspect ratio of the
/// crop within [1/maxAspectChange, maxAspectChange] of the image's, placed uniformly;</item>
/// <item>IoU-constrained (SSD): as above, but a crop is accepted only if its IoU with at least one box reaches a
/// threshold drawn from the given list.</item>
/// </list>
/// Either way a crop that would keep no box (by <see cref="BoxMath.Crop"/>) is rejected when the image has boxes; after
/// <c>maxTrials</c> rejections the caller gets <c>null</c> and leaves the image whole.
/// </summary>
internal static class RandomCrop
{
    public static PixelRect? Sample(ref SeededRandom rng, int width, int height, ReadOnlySpan<float> boxes,
        float minScale, float maxAspectChange, float minVisibleFraction, IReadOnlyList<float>? iouThresholds, int maxTrials)
    {
        int boxCount = boxes.Length / 4;
        float threshold = iouThresholds is { Count: > 0 } ? iouThresholds[rng.NextInt(iouThresholds.Count)] : 0;
        for (int trial = 0; trial < maxTrials; trial++)
        {
            float sw = rng.NextFloat(minScale, 1), sh = rng.NextFloat(minScale, 1);
            float aspect = sw / sh;
            if (aspect > maxAspectChange || aspect < 1 / maxAspectChange)
                continue;
            int cw = Math.Clamp((int)MathF.Round(width * sw), 1, width);
            int ch = Math.Clamp((int)MathF.Round(height * sh), 1, height);
            int x = rng.NextInt(width - cw + 1), y = rng.NextInt(height - ch + 1);
            var rect = new PixelRect(x, y, cw, ch);
            if (boxCount == 0)
                return rect;
            if (threshold > 0)
            {
                float best = 0;
                for (int i = 0; i < boxCount; i++) best = Math.Max(best, BoxMath.IoU(boxes, i, rect));
                if (best < threshold)
                    continue;
            }
            if (BoxMath.Crop(boxes, rect, minVisibleFraction).Kept.Length > 0)
                return rect;
        }
        return null;
    }
}
