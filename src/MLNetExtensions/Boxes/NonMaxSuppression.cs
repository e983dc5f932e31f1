using MLNetExtensions.Data;

namespace MLNetExtensions.Boxes;

/// <summary>
/// Greedy non-maximum suppression: boxes are visited from the highest score down and a box is kept unless its IoU
/// with an already kept box is strictly greater than the threshold.
/// </summary>
/// <remarks>
/// Results are indices into the input, in the order they were kept: descending score, and for equal scores
/// ascending original index (a stable sort, like torchvision's CPU kernel and ONNX Runtime). IoU follows
/// <see cref="BoxOps"/> (continuous coordinates, empty boxes overlap nothing). Boxes are
/// <see cref="BoxFormat.Corners"/>, <c>(N, 4)</c>.
/// The work is one sort of 64-bit keys (score bits, then index) and, per candidate, an IoU against the boxes kept
/// so far, held in flat arrays with their areas computed once.
/// </remarks>
public static partial class NonMaxSuppression
{
    /// <summary>Single-class NMS with no score threshold and no limit.</summary>
    /// <param name="boxes"><c>(N, 4)</c> corner boxes.</param>
    /// <param name="scores"><c>(N)</c> scores.</param>
    /// <param name="iouThreshold">IoU strictly above which a lower-scored box is suppressed.</param>
    /// <returns>Indices of the kept boxes, highest score first.</returns>
    public static int[] Apply(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, float iouThreshold) =>
        Apply(boxes, scores, new NmsOptions(iouThreshold));

    /// <summary>Single-class NMS; keeps at most <c>min(MaxPerClass, MaxTotal)</c> boxes.</summary>
    /// <param name="boxes"><c>(N, 4)</c> corner boxes.</param>
    /// <param name="scores"><c>(N)</c> scores.</param>
    /// <param name="options">Thresholds and limits.</param>
    /// <returns>Indices of the kept boxes, highest score first.</returns>
    public static int[] Apply(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, NmsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int n = BoxSpan.Count(boxes, nameof(boxes));
        BoxSpan.RequireLength(scores.Length, n, nameof(scores), "one score per box");
        var ranked = Rank(scores, options.ScoreThreshold, out int count);
        var order = new int[count];
        for (int r = 0; r < count; r++) order[r] = (int)ranked[r];
        int max = Math.Min(options.MaxPerClass, options.MaxTotal);
        var keep = new int[Math.Min(count, max)];
        var scratch = new KeptBoxes(keep.Length);
        int kept = scratch.Greedy(boxes, order, options.IouThreshold, max, keep);
        return kept == keep.Length ? keep : keep[..kept];
    }

    /// <summary>Single-class NMS of <see cref="BoundingBox"/>es with no score threshold and no limit.</summary>
    public static int[] Apply(ReadOnlySpan<BoundingBox> boxes, ReadOnlySpan<float> scores, float iouThreshold) =>
        Apply(BoxSpan.AsFloats(boxes), scores, new NmsOptions(iouThreshold));

    /// <summary>Single-class NMS of <see cref="BoundingBox"/>es.</summary>
    public static int[] Apply(ReadOnlySpan<BoundingBox> boxes, ReadOnlySpan<float> scores, NmsOptions options) =>
        Apply(BoxSpan.AsFloats(boxes), scores, options);

    /// <summary>
    /// Class-aware NMS with no score threshold and no limit: boxes of different classes never suppress each other.
    /// </summary>
    /// <param name="boxes"><c>(N, 4)</c> corner boxes.</param>
    /// <param name="scores"><c>(N)</c> scores.</param>
    /// <param name="classes"><c>(N)</c> class of each box (any integers).</param>
    /// <param name="iouThreshold">IoU strictly above which a lower-scored box of the same class is suppressed.</param>
    /// <returns>Indices of the kept boxes of all classes, highest score first (ties: lower index first).</returns>
    public static int[] ApplyClassAware(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<int> classes, float iouThreshold) =>
        ApplyClassAware(boxes, scores, classes, new NmsOptions(iouThreshold));

    /// <summary>
    /// Class-aware NMS: each class is suppressed on its own and keeps at most <see cref="NmsOptions.MaxPerClass"/>
    /// boxes, then the highest-scored <see cref="NmsOptions.MaxTotal"/> of all classes are returned.
    /// </summary>
    /// <returns>Indices of the kept boxes of all classes, highest score first (ties: lower index first).</returns>
    public static int[] ApplyClassAware(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<int> classes, NmsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int n = BoxSpan.Count(boxes, nameof(boxes));
        BoxSpan.RequireLength(scores.Length, n, nameof(scores), "one score per box");
        BoxSpan.RequireLength(classes.Length, n, nameof(classes), "one class per box");
        var ranked = Rank(scores, options.ScoreThreshold, out int count);

        // Group by class while keeping the global rank order inside each class: sort (class, rank) keys.
        var byClass = new ulong[count];
        for (int r = 0; r < count; r++)
            byClass[r] = ((ulong)((uint)classes[(int)ranked[r]] ^ 0x8000_0000u) << 32) | (uint)r;
        Array.Sort(byClass);
        var order = new int[count];
        for (int r = 0; r < count; r++) order[r] = (int)ranked[(int)byClass[r]];

        var keptRanks = new List<int>(Math.Min(count, 1024));
        var scratch = new KeptBoxes(Math.Min(count, options.MaxPerClass));
        var keep = new int[Math.Min(count, options.MaxPerClass)];
        for (int start = 0; start < count;)
        {
            uint cls = (uint)(byClass[start] >> 32);
            int end = start + 1;
            while (end < count && (uint)(byClass[end] >> 32) == cls) end++;
            int kept = scratch.Greedy(boxes, order.AsSpan(start, end - start), options.IouThreshold, options.MaxPerClass, keep);
            // keep[] holds box indices; map each back to its global rank through its position in the segment.
            for (int k = 0, p = start; k < kept; k++)
            {
                while (order[p] != keep[k]) p++;
                keptRanks.Add((int)byClass[p]);
            }
            start = end;
        }
        keptRanks.Sort();
        int total = Math.Min(keptRanks.Count, options.MaxTotal);
        var result = new int[total];
        for (int k = 0; k < total; k++) result[k] = (int)ranked[keptRanks[k]];
        return result;
    }

    /// <summary>Class-aware NMS of <see cref="BoundingBox"/>es with no score threshold and no limit.</summary>
    public static int[] ApplyClassAware(ReadOnlySpan<BoundingBox> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<int> classes, float iouThreshold) =>
        ApplyClassAware(BoxSpan.AsFloats(boxes), scores, classes, new NmsOptions(iouThreshold));

    /// <summary>Class-aware NMS of <see cref="BoundingBox"/>es.</summary>
    public static int[] ApplyClassAware(ReadOnlySpan<BoundingBox> boxes, ReadOnlySpan<float> scores, ReadOnlySpan<int> classes, NmsOptions options) =>
        ApplyClassAware(BoxSpan.AsFloats(boxes), scores, classes, options);

    /// <summary>
    /// Sorts the indices of the scores that pass the threshold by descending score, then ascending index. Each
    /// key is the score's bits mapped to an order-preserving unsigned integer (inverted for descending order) in
    /// the high half and the index in the low half, so one primitive sort gives a stable order. The low 32 bits of
    /// each of the first <paramref name="count"/> keys are the indices.
    /// </summary>
    internal static ulong[] Rank(ReadOnlySpan<float> scores, float scoreThreshold, out int count)
    {
        var keys = new ulong[scores.Length];
        bool all = float.IsNegativeInfinity(scoreThreshold);
        count = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (all ? float.IsNaN(s) : !(s > scoreThreshold)) continue;
            keys[count++] = ((ulong)DescendingKey(s) << 32) | (uint)i;
        }
        Array.Sort(keys, 0, count);
        return keys;
    }

    private static uint DescendingKey(float score)
    {
        uint bits = BitConverter.SingleToUInt32Bits(score + 0f); // + 0f turns -0 into +0 so they tie
        uint ascending = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
        return ~ascending;
    }

    /// <summary>The boxes kept so far as flat coordinate and area arrays, reused across classes.</summary>
    private sealed class KeptBoxes(int capacity)
    {
        private readonly float[] _x1 = new float[capacity], _y1 = new float[capacity], _x2 = new float[capacity], _y2 = new float[capacity], _area = new float[capacity];

        /// <summary>Greedy pass over <paramref name="order"/> (box indices, best first); writes kept indices, returns their count.</summary>
        public int Greedy(ReadOnlySpan<float> boxes, ReadOnlySpan<int> order, float iouThreshold, int max, Span<int> keep)
        {
            int kept = 0;
            var x1s = _x1; var y1s = _y1; var x2s = _x2; var y2s = _y2; var areas = _area;
            for (int r = 0; r < order.Length && kept < max; r++)
            {
                int i = order[r], o = 4 * i;
                float x1 = boxes[o], y1 = boxes[o + 1], x2 = boxes[o + 2], y2 = boxes[o + 3];
                float area = BoxSpan.Area(x1, y1, x2, y2);
                if (BoxSpan.AnyIouAbove(x1s, y1s, x2s, y2s, areas, kept, x1, y1, x2, y2, area, iouThreshold)) continue;
                x1s[kept] = x1; y1s[kept] = y1; x2s[kept] = x2; y2s[kept] = y2; areas[kept] = area;
                keep[kept++] = i;
            }
            return kept;
        }
    }
}
