using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Selective search (Uijlings, van de Sande, Gevers, Smeulders, "Selective Search for Object Recognition", IJCV 2013):
/// class-agnostic box proposals from hierarchical grouping of a <see cref="FelzenszwalbSegmentation"/> over-segmentation,
/// diversified over colour spaces, segmentation scales k and similarity combinations, structured and ranked as OpenCV's
/// <c>ximgproc::segmentation::SelectiveSearchSegmentation</c>.
/// </summary>
/// <remarks>
/// <para>For each colour image (<see cref="SelectiveSearchStrategy"/> lists them), each k (Felzenszwalb scale k, min_size
/// k unless <see cref="SelectiveSearchOptions.MinRegionSize"/> is set, σ = <see cref="SelectiveSearchOptions.Sigma"/>) and each similarity combination, one hierarchy: neighbouring
/// regions (8-connected) are merged most similar first until one region is left. Similarities are histogram
/// intersections of colour (25 bins per channel) and texture (8 Gaussian-derivative orientations × 10 bins per channel)
/// histograms, L1-normalised, plus size and fill, averaged with equal weights.</para>
/// <para>Ranking as OpenCV's: every region of every hierarchy gets rank = level × U[0, 1) (level 1 for initial
/// regions, one more than the higher of the two merged), drawn in hierarchy order from one SplitMix64 generator seeded
/// with <see cref="SelectiveSearchOptions.Seed"/>; all boxes are sorted by rank ascending (stable), and a box equal to
/// an earlier one is dropped. Small, early regions therefore tend to come first, mixed with larger ones.</para>
/// </remarks>
public static class SelectiveSearch
{
    private static readonly int[] FastK = [50, 100];
    private static readonly int[] QualityK = [50, 100, 150, 300];

    private static readonly SimilarityMeasures[] FastMeasures =
    [
        SimilarityMeasures.Colour | SimilarityMeasures.Texture | SimilarityMeasures.Size | SimilarityMeasures.Fill,
        SimilarityMeasures.Texture | SimilarityMeasures.Size | SimilarityMeasures.Fill,
    ];

    private static readonly SimilarityMeasures[] QualityMeasures =
        [.. FastMeasures, SimilarityMeasures.Fill, SimilarityMeasures.Size];

    /// <summary>Box proposals for an 8-bit RGB image.</summary>
    /// <param name="rgb">height × width × 3 bytes, row by row, R, G, B interleaved.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="options">Strategy, seed, smoothing and minimum box size; the fast strategy with seed 0 when null.</param>
    /// <returns>N×4 floats <c>[xmin, ymin, xmax, ymax]</c> in pixel edges (a box around pixel columns 3…5 has xmin 3
    /// and xmax 6), best-ranked first, no two equal.</returns>
    public static float[] Propose(ReadOnlySpan<byte> rgb, int height, int width, SelectiveSearchOptions? options = null)
    {
        options ??= new SelectiveSearchOptions();
        if (height < 1)
            throw new ArgumentOutOfRangeException(nameof(height), height, "The image needs at least one row.");
        if (width < 1)
            throw new ArgumentOutOfRangeException(nameof(width), width, "The image needs at least one column.");
        long expected = 3L * height * width;
        if (rgb.Length != expected)
            throw new ArgumentException(
                $"The pixel buffer holds {rgb.Length} bytes but a {height}×{width} RGB image needs height × width × 3 = {expected}: pass the pixels row by row with R, G, B interleaved.",
                nameof(rgb));

        bool quality = options.Strategy == SelectiveSearchStrategy.Quality;
        int[] ks = quality ? QualityK : FastK;
        SimilarityMeasures[] measures = quality ? QualityMeasures : FastMeasures;

        var random = new SeededRandom((ulong)(uint)options.Seed);
        var ranked = new List<(double Rank, int X0, int Y0, int X1, int Y1)>();
        foreach (var (image, channels) in ColourImages(rgb, quality))
        {
            RegionFeatures features = RegionFeatures.Compute(image, height, width, channels);
            foreach (int k in ks)
            {
                FelzenszwalbSegments segments = FelzenszwalbSegmentation.Segment(image, height, width, channels,
                    new FelzenszwalbOptions(Scale: k, Sigma: options.Sigma, MinSize: options.MinRegionSize ?? k));
                InitialRegions initial = InitialRegions.Build(segments, features);
                foreach (SimilarityMeasures m in measures)
                {
                    var (boxes, levels) = HierarchicalGrouping.Run(initial, m);
                    for (int r = 0; r < levels.Length; r++)
                        ranked.Add((random.NextDouble() * levels[r], boxes[4 * r], boxes[4 * r + 1], boxes[4 * r + 2], boxes[4 * r + 3]));
                }
            }
        }
        // List.Sort is not stable: order equal ranks by the order they were drawn in.
        var order = new int[ranked.Count];
        var keys = new double[ranked.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
            keys[i] = ranked[i].Rank;
        }
        Array.Sort(order, (i, j) => keys[i] != keys[j] ? keys[i].CompareTo(keys[j]) : i.CompareTo(j));

        var seen = new HashSet<(int, int, int, int)>();
        var result = new List<float>();
        foreach (int i in order)
        {
            var (_, x0, y0, x1, y1) = ranked[i];
            if (x1 - x0 < options.MinBoxSize || y1 - y0 < options.MinBoxSize) continue;
            if (!seen.Add((x0, y0, x1, y1))) continue;
            result.Add(x0); result.Add(y0); result.Add(x1); result.Add(y1);
        }
        return [.. result];
    }

    /// <summary>The colour images in OpenCV's order: HSV, Lab (fast); then I, H and rgI (quality).</summary>
    private static IEnumerable<(byte[] Image, int Channels)> ColourImages(ReadOnlySpan<byte> rgb, bool quality)
    {
        byte[] hsv = ColourSpaces.RgbToHsv(rgb);
        var images = new List<(byte[], int)> { (hsv, 3), (ColourSpaces.RgbToLab(rgb), 3) };
        if (quality)
        {
            images.Add((ColourSpaces.RgbToGray(rgb), 1));
            images.Add((ColourSpaces.Hue(hsv), 1));
            images.Add((ColourSpaces.RgbToRgI(rgb), 3));
        }
        return images;
    }
}
