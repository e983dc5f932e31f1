namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Uijlings et al.'s hierarchical grouping (Algorithm 1) on one segmentation with one similarity combination: merge the
/// most similar pair of neighbours into a new region, replace their similarities by the new region's to their
/// neighbours, repeat until no neighbours are left (one region for a connected image). Every region of the hierarchy,
/// initial and merged, is a proposal.
/// </summary>
/// <remarks>
/// OpenCV keeps a vector of similarities and re-sorts it after each merge (quadratic); this keeps a max-heap and skips
/// entries whose regions were merged away. Equal similarities are taken in the order they were computed (initial pairs
/// by increasing region index, then the new region's pairs by neighbour index), which makes the result independent of
/// the sort's tie order.
/// </remarks>
internal static class HierarchicalGrouping
{
    /// <summary>The hierarchy's regions: the initial ones (0 … n − 1), then one per merge, in merge order.</summary>
    /// <param name="Boxes">4 ints per region: xmin, ymin, xmax, ymax (max edges exclusive).</param>
    /// <param name="Levels">1 for initial regions, max(level of the two merged) + 1 for a merge.</param>
    public readonly record struct Hierarchy(int[] Boxes, int[] Levels);

    public static Hierarchy Run(InitialRegions initial, SimilarityMeasures measures)
    {
        int n = initial.Count, total = Math.Max(1, 2 * n - 1);
        int colourLength = initial.ColourLength, textureLength = initial.TextureLength;
        bool useColour = measures.HasFlag(SimilarityMeasures.Colour), useTexture = measures.HasFlag(SimilarityMeasures.Texture);
        bool useSize = measures.HasFlag(SimilarityMeasures.Size), useFill = measures.HasFlag(SimilarityMeasures.Fill);
        int measureCount = (useColour ? 1 : 0) + (useTexture ? 1 : 0) + (useSize ? 1 : 0) + (useFill ? 1 : 0);
        int imageSize = initial.ImageSize;

        var sizes = new int[total];
        var boxes = new int[4 * total];
        var levels = new int[total];
        var colour = useColour ? new float[total * colourLength] : [];
        var texture = useTexture ? new float[total * textureLength] : [];
        initial.Sizes.CopyTo(sizes, 0);
        initial.Boxes.CopyTo(boxes, 0);
        if (useColour) initial.Colour.CopyTo(colour, 0);
        if (useTexture) initial.Texture.CopyTo(texture, 0);
        var alive = new bool[total];
        var neighbours = new List<int>[total];
        for (int r = 0; r < n; r++)
        {
            levels[r] = 1;
            alive[r] = true;
            neighbours[r] = [];
        }

        var queue = new PriorityQueue<(int A, int B), (double Similarity, long Order)>(MostSimilarFirst.Instance);
        long order = 0;
        foreach (var (a, b) in initial.Neighbours)
        {
            neighbours[a].Add(b);
            neighbours[b].Add(a);
            queue.Enqueue((a, b), (Similarity(a, b), order++));
        }

        int count = n;
        while (queue.TryDequeue(out var pair, out _))
        {
            var (a, b) = pair;
            if (!alive[a] || !alive[b]) continue;
            int m = count++;
            sizes[m] = sizes[a] + sizes[b];
            levels[m] = Math.Max(levels[a], levels[b]) + 1;
            UnionBox(boxes, a, b, boxes.AsSpan(4 * m, 4));
            if (useColour)
                RegionSimilarity.Merge(colour.AsSpan(a * colourLength, colourLength), sizes[a],
                    colour.AsSpan(b * colourLength, colourLength), sizes[b], colour.AsSpan(m * colourLength, colourLength));
            if (useTexture)
                RegionSimilarity.Merge(texture.AsSpan(a * textureLength, textureLength), sizes[a],
                    texture.AsSpan(b * textureLength, textureLength), sizes[b], texture.AsSpan(m * textureLength, textureLength));
            alive[a] = alive[b] = false;
            alive[m] = true;

            var merged = new SortedSet<int>();
            foreach (int x in neighbours[a]) if (alive[x]) merged.Add(x);
            foreach (int x in neighbours[b]) if (alive[x]) merged.Add(x);
            merged.Remove(m);
            neighbours[m] = [.. merged];
            neighbours[a] = neighbours[b] = null!;
            foreach (int x in merged)
            {
                neighbours[x].RemoveAll(y => y == a || y == b);
                neighbours[x].Add(m);
                queue.Enqueue((m, x), (Similarity(m, x), order++));
            }
        }
        return new Hierarchy(boxes.AsSpan(0, 4 * count).ToArray(), levels.AsSpan(0, count).ToArray());

        double Similarity(int a, int b)
        {
            double s = 0;
            if (useColour)
                s += RegionSimilarity.Intersection(colour.AsSpan(a * colourLength, colourLength), colour.AsSpan(b * colourLength, colourLength));
            if (useTexture)
                s += RegionSimilarity.Intersection(texture.AsSpan(a * textureLength, textureLength), texture.AsSpan(b * textureLength, textureLength));
            if (useSize) s += RegionSimilarity.Size(sizes[a], sizes[b], imageSize);
            if (useFill)
            {
                Span<int> union = stackalloc int[4];
                UnionBox(boxes, a, b, union);
                s += RegionSimilarity.Fill(sizes[a], sizes[b], (long)(union[2] - union[0]) * (union[3] - union[1]), imageSize);
            }
            return s / measureCount;
        }
    }

    private static void UnionBox(int[] boxes, int a, int b, Span<int> union)
    {
        union[0] = Math.Min(boxes[4 * a], boxes[4 * b]);
        union[1] = Math.Min(boxes[4 * a + 1], boxes[4 * b + 1]);
        union[2] = Math.Max(boxes[4 * a + 2], boxes[4 * b + 2]);
        union[3] = Math.Max(boxes[4 * a + 3], boxes[4 * b + 3]);
    }

    /// <summary>Higher similarity first; among equal ones, the one computed first.</summary>
    private sealed class MostSimilarFirst : IComparer<(double Similarity, long Order)>
    {
        public static readonly MostSimilarFirst Instance = new();

        public int Compare((double Similarity, long Order) x, (double Similarity, long Order) y)
        {
            int c = y.Similarity.CompareTo(x.Similarity);
            return c != 0 ? c : x.Order.CompareTo(y.Order);
        }
    }
}
