using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MLNetExtensions.Data;

namespace MLNetExtensions.Boxes;

/// <summary>Argument checks and views shared by the box operations, so every entry point words its errors alike.</summary>
internal static class BoxSpan
{
    /// <summary>Number of boxes in a flat <c>N×4</c> span; throws when its length is not a multiple of 4.</summary>
    public static int Count(ReadOnlySpan<float> boxes, string name)
    {
        if ((boxes.Length & 3) != 0)
            throw new ArgumentException($"'{name}' has {boxes.Length} floats; expected N×4 values, four per box.", name);
        return boxes.Length >> 2;
    }

    /// <summary>Throws when <paramref name="actual"/> differs from what the boxes imply.</summary>
    public static void RequireLength(int actual, int expected, string name, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' has {actual} values; expected {expected} ({what}).", name);
    }

    /// <summary>
    /// The floats of a span of <see cref="BoundingBox"/> without copying: the record struct is four floats laid out
    /// sequentially in the order XMin, YMin, XMax, YMax, which is exactly the Corners layout.
    /// </summary>
    public static ReadOnlySpan<float> AsFloats(ReadOnlySpan<BoundingBox> boxes) => MemoryMarshal.Cast<BoundingBox, float>(boxes);

    /// <summary>Writable variant of <see cref="AsFloats(ReadOnlySpan{BoundingBox})"/>.</summary>
    public static Span<float> AsFloats(Span<BoundingBox> boxes) => MemoryMarshal.Cast<BoundingBox, float>(boxes);

    /// <summary>Clamped-at-zero area, the convention of every operation here (an inverted box covers nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Area(float x1, float y1, float x2, float y2) => MathF.Max(x2 - x1, 0f) * MathF.Max(y2 - y1, 0f);

    /// <summary>
    /// Intersection over union of two corner boxes whose areas are known. 0 when the union is empty (two
    /// zero-size boxes), so callers never see NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Iou(float ax1, float ay1, float ax2, float ay2, float areaA, float bx1, float by1, float bx2, float by2, float areaB)
    {
        float w = MathF.Min(ax2, bx2) - MathF.Max(ax1, bx1);
        float h = MathF.Min(ay2, by2) - MathF.Max(ay1, by1);
        if (w <= 0f || h <= 0f) return 0f;
        float inter = w * h;
        float union = areaA + areaB - inter;
        return union > 0f ? inter / union : 0f;
    }
}
