using System.Numerics;
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

    /// <summary>
    /// Whether box <c>b</c> has IoU strictly above <paramref name="threshold"/> (&gt;= 0) with any of the first
    /// <paramref name="count"/> boxes held as flat coordinate and area arrays. SIMD over those boxes; each lane
    /// computes exactly what <see cref="Iou"/> computes (an empty intersection gives 0 or NaN, never above a
    /// threshold &gt;= 0), so the answer does not depend on the vector width.
    /// </summary>
    public static bool AnyIouAbove(float[] x1s, float[] y1s, float[] x2s, float[] y2s, float[] areas, int count,
        float bx1, float by1, float bx2, float by2, float areaB, float threshold)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated && count >= Vector<float>.Count)
        {
            var vx1 = new Vector<float>(bx1); var vy1 = new Vector<float>(by1);
            var vx2 = new Vector<float>(bx2); var vy2 = new Vector<float>(by2);
            var vArea = new Vector<float>(areaB); var vThreshold = new Vector<float>(threshold);
            for (; k <= count - Vector<float>.Count; k += Vector<float>.Count)
            {
                var w = Vector.Max(Vector.Min(new Vector<float>(x2s, k), vx2) - Vector.Max(new Vector<float>(x1s, k), vx1), Vector<float>.Zero);
                var h = Vector.Max(Vector.Min(new Vector<float>(y2s, k), vy2) - Vector.Max(new Vector<float>(y1s, k), vy1), Vector<float>.Zero);
                var inter = w * h;
                var iou = inter / (new Vector<float>(areas, k) + vArea - inter);
                if (Vector.GreaterThanAny(iou, vThreshold)) return true;
            }
        }
        for (; k < count; k++)
            if (Iou(x1s[k], y1s[k], x2s[k], y2s[k], areas[k], bx1, by1, bx2, by2, areaB) > threshold) return true;
        return false;
    }

    /// <summary>
    /// IoU of box <c>a</c> with each box held as flat coordinate and area arrays, into <paramref name="row"/>;
    /// SIMD lanes give the same value as <see cref="Iou"/>.
    /// </summary>
    public static void IouRow(float ax1, float ay1, float ax2, float ay2, float areaA,
        float[] x1s, float[] y1s, float[] x2s, float[] y2s, float[] areas, Span<float> row)
    {
        int j = 0, count = row.Length;
        if (Vector.IsHardwareAccelerated && count >= Vector<float>.Count)
        {
            var vx1 = new Vector<float>(ax1); var vy1 = new Vector<float>(ay1);
            var vx2 = new Vector<float>(ax2); var vy2 = new Vector<float>(ay2);
            var vArea = new Vector<float>(areaA);
            for (; j <= count - Vector<float>.Count; j += Vector<float>.Count)
            {
                var w = Vector.Max(Vector.Min(vx2, new Vector<float>(x2s, j)) - Vector.Max(vx1, new Vector<float>(x1s, j)), Vector<float>.Zero);
                var h = Vector.Max(Vector.Min(vy2, new Vector<float>(y2s, j)) - Vector.Max(vy1, new Vector<float>(y1s, j)), Vector<float>.Zero);
                var inter = w * h;
                var union = vArea + new Vector<float>(areas, j) - inter;
                // An empty union (two empty boxes) is 0, as in the scalar path; 0/0 would be NaN.
                Vector.ConditionalSelect(Vector.GreaterThan(union, Vector<float>.Zero), inter / union, Vector<float>.Zero).CopyTo(row.Slice(j));
            }
        }
        for (; j < count; j++)
            row[j] = Iou(ax1, ay1, ax2, ay2, areaA, x1s[j], y1s[j], x2s[j], y2s[j], areas[j]);
    }
}
