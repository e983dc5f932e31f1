using MLNetExtensions.Data;

namespace MLNetExtensions.Boxes;

/// <summary>
/// Geometry of axis-aligned boxes: area, intersection over union, clipping and filtering.
/// </summary>
/// <remarks>
/// Coordinates are continuous, as in torchvision and COCO: a box <c>[xmin, ymin, xmax, ymax]</c> covers
/// <c>xmax - xmin</c> by <c>ymax - ymin</c> pixels, with no "+1" (Pascal VOC's old integer convention is not used).
/// A box whose max is below its min covers nothing: its area is 0 and its IoU with anything is 0.
/// Flat spans hold <c>N×4</c> floats, four per box in <see cref="BoxFormat.Corners"/> layout unless a method says
/// otherwise. The pairwise IoU of two empty boxes is 0 (torchvision gives NaN there).
/// </remarks>
public static class BoxOps
{
    /// <summary>Area of one box, 0 for an inverted or empty one.</summary>
    public static float Area(BoundingBox box) => BoxSpan.Area(box.XMin, box.YMin, box.XMax, box.YMax);

    /// <summary>Areas of <c>N</c> boxes. <paramref name="boxes"/> is <c>(N, 4)</c>, <paramref name="areas"/> is <c>(N)</c>.</summary>
    public static void Areas(ReadOnlySpan<float> boxes, Span<float> areas)
    {
        int n = BoxSpan.Count(boxes, nameof(boxes));
        BoxSpan.RequireLength(areas.Length, n, nameof(areas), "one area per box");
        for (int i = 0, o = 0; i < n; i++, o += 4)
            areas[i] = BoxSpan.Area(boxes[o], boxes[o + 1], boxes[o + 2], boxes[o + 3]);
    }

    /// <summary>Intersection over union of two boxes, in [0, 1].</summary>
    public static float Iou(BoundingBox a, BoundingBox b) =>
        BoxSpan.Iou(a.XMin, a.YMin, a.XMax, a.YMax, Area(a), b.XMin, b.YMin, b.XMax, b.YMax, Area(b));

    /// <summary>
    /// IoU of every box of <paramref name="boxes1"/> <c>(N, 4)</c> with every box of <paramref name="boxes2"/>
    /// <c>(M, 4)</c>, written row-major into <paramref name="iou"/> <c>(N, M)</c>: <c>iou[i * M + j]</c>.
    /// </summary>
    public static void PairwiseIou(ReadOnlySpan<float> boxes1, ReadOnlySpan<float> boxes2, Span<float> iou)
    {
        int n = BoxSpan.Count(boxes1, nameof(boxes1));
        int m = BoxSpan.Count(boxes2, nameof(boxes2));
        BoxSpan.RequireLength(iou.Length, n * m, nameof(iou), $"{n}×{m}, one value per pair");
        if (n == 0 || m == 0) return;

        // Struct-of-arrays copy of the second set with its areas computed once: the inner loop then streams
        // five contiguous arrays instead of recomputing M areas N times.
        var x1 = new float[m]; var y1 = new float[m]; var x2 = new float[m]; var y2 = new float[m]; var area = new float[m];
        for (int j = 0, o = 0; j < m; j++, o += 4)
        {
            x1[j] = boxes2[o]; y1[j] = boxes2[o + 1]; x2[j] = boxes2[o + 2]; y2[j] = boxes2[o + 3];
            area[j] = BoxSpan.Area(x1[j], y1[j], x2[j], y2[j]);
        }
        for (int i = 0, o = 0; i < n; i++, o += 4)
        {
            float ax1 = boxes1[o], ay1 = boxes1[o + 1], ax2 = boxes1[o + 2], ay2 = boxes1[o + 3];
            float areaA = BoxSpan.Area(ax1, ay1, ax2, ay2);
            BoxSpan.IouRow(ax1, ay1, ax2, ay2, areaA, x1, y1, x2, y2, area, iou.Slice(i * m, m));
        }
    }

    /// <summary>Pairwise IoU <c>(N, M)</c> as a new row-major array; see <see cref="PairwiseIou(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static float[] PairwiseIou(ReadOnlySpan<float> boxes1, ReadOnlySpan<float> boxes2)
    {
        var iou = new float[BoxSpan.Count(boxes1, nameof(boxes1)) * BoxSpan.Count(boxes2, nameof(boxes2))];
        PairwiseIou(boxes1, boxes2, iou);
        return iou;
    }

    /// <summary>Pairwise IoU <c>(N, M)</c> of two lists of boxes, row-major.</summary>
    public static float[] PairwiseIou(ReadOnlySpan<BoundingBox> boxes1, ReadOnlySpan<BoundingBox> boxes2) =>
        PairwiseIou(BoxSpan.AsFloats(boxes1), BoxSpan.AsFloats(boxes2));

    /// <summary>The box with its coordinates clamped to the image <c>[0, width] × [0, height]</c>.</summary>
    public static BoundingBox Clip(BoundingBox box, float width, float height)
    {
        CheckImageSize(width, height);
        return new BoundingBox(
            Math.Clamp(box.XMin, 0f, width), Math.Clamp(box.YMin, 0f, height),
            Math.Clamp(box.XMax, 0f, width), Math.Clamp(box.YMax, 0f, height));
    }

    /// <summary>Clamps <c>(N, 4)</c> boxes in place to the image <c>[0, width] × [0, height]</c>.</summary>
    public static void Clip(Span<float> boxes, float width, float height)
    {
        BoxSpan.Count(boxes, nameof(boxes));
        CheckImageSize(width, height);
        for (int o = 0; o < boxes.Length; o += 4)
        {
            boxes[o] = Math.Clamp(boxes[o], 0f, width);
            boxes[o + 1] = Math.Clamp(boxes[o + 1], 0f, height);
            boxes[o + 2] = Math.Clamp(boxes[o + 2], 0f, width);
            boxes[o + 3] = Math.Clamp(boxes[o + 3], 0f, height);
        }
    }

    /// <summary>
    /// Indices, ascending, of the <c>(N, 4)</c> boxes at least <paramref name="minSize"/> wide and high
    /// (torchvision's <c>remove_small_boxes</c>). Use <see cref="RemoveEmpty(ReadOnlySpan{float})"/> to drop only
    /// zero-size boxes.
    /// </summary>
    public static int[] RemoveSmall(ReadOnlySpan<float> boxes, float minSize)
    {
        BoxSpan.Count(boxes, nameof(boxes));
        if (!(minSize >= 0f) || float.IsInfinity(minSize))
            throw new ArgumentOutOfRangeException(nameof(minSize), minSize, "The minimum box size must be a finite number >= 0.");
        return Keep(boxes, minSize, strict: false);
    }

    /// <summary>Indices, ascending, of the <c>(N, 4)</c> boxes with positive width and height.</summary>
    public static int[] RemoveEmpty(ReadOnlySpan<float> boxes)
    {
        BoxSpan.Count(boxes, nameof(boxes));
        return Keep(boxes, 0f, strict: true);
    }

    /// <summary>Indices of the boxes at least <paramref name="minSize"/> wide and high.</summary>
    public static int[] RemoveSmall(ReadOnlySpan<BoundingBox> boxes, float minSize) => RemoveSmall(BoxSpan.AsFloats(boxes), minSize);

    /// <summary>Indices of the boxes with positive width and height.</summary>
    public static int[] RemoveEmpty(ReadOnlySpan<BoundingBox> boxes) => RemoveEmpty(BoxSpan.AsFloats(boxes));

    /// <summary>
    /// Converts <c>(N, 4)</c> boxes from one layout to another. <paramref name="source"/> and
    /// <paramref name="destination"/> may be the same span.
    /// </summary>
    public static void Convert(ReadOnlySpan<float> source, BoxFormat from, BoxFormat to, Span<float> destination)
    {
        int n = BoxSpan.Count(source, nameof(source));
        BoxSpan.RequireLength(destination.Length, source.Length, nameof(destination), $"{n}×4, same as the source");
        if (!Enum.IsDefined(from)) throw new ArgumentOutOfRangeException(nameof(from), from, "Unknown box format.");
        if (!Enum.IsDefined(to)) throw new ArgumentOutOfRangeException(nameof(to), to, "Unknown box format.");
        for (int o = 0; o < source.Length; o += 4)
        {
            float a = source[o], b = source[o + 1], c = source[o + 2], d = source[o + 3];
            if (from == to) { }
            else if (from == BoxFormat.Corners)
            {
                float w = c - a, h = d - b;
                (a, b, c, d) = (a + 0.5f * w, b + 0.5f * h, w, h);
            }
            else
            {
                (a, b, c, d) = (a - 0.5f * c, b - 0.5f * d, a + 0.5f * c, b + 0.5f * d);
            }
            destination[o] = a; destination[o + 1] = b; destination[o + 2] = c; destination[o + 3] = d;
        }
    }

    /// <summary>The boxes of a list as a flat <c>(N, 4)</c> array.</summary>
    public static float[] ToArray(IReadOnlyList<BoundingBox> boxes)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        var flat = new float[boxes.Count * 4];
        for (int i = 0; i < boxes.Count; i++)
        {
            var b = boxes[i];
            flat[4 * i] = b.XMin; flat[4 * i + 1] = b.YMin; flat[4 * i + 2] = b.XMax; flat[4 * i + 3] = b.YMax;
        }
        return flat;
    }

    /// <summary>A flat <c>(N, 4)</c> span as boxes.</summary>
    public static BoundingBox[] ToBoxes(ReadOnlySpan<float> boxes)
    {
        var result = new BoundingBox[BoxSpan.Count(boxes, nameof(boxes))];
        boxes.CopyTo(BoxSpan.AsFloats(result.AsSpan()));
        return result;
    }

    private static int[] Keep(ReadOnlySpan<float> boxes, float minSize, bool strict)
    {
        var keep = new List<int>(boxes.Length >> 2);
        for (int i = 0, o = 0; o < boxes.Length; i++, o += 4)
        {
            float w = boxes[o + 2] - boxes[o], h = boxes[o + 3] - boxes[o + 1];
            if (strict ? w > minSize && h > minSize : w >= minSize && h >= minSize) keep.Add(i);
        }
        return keep.ToArray();
    }

    private static void CheckImageSize(float width, float height)
    {
        if (!(width > 0f) || !(height > 0f) || float.IsInfinity(width) || float.IsInfinity(height))
            throw new ArgumentOutOfRangeException(nameof(width), $"The image size must be positive and finite; got {width}×{height}.");
    }
}
