namespace MLNetExtensions.Detection.Rcnn;

/// <summary>Uijlings et al.'s four similarities of two regions (section 3.2), each in [0, 1].</summary>
internal static class RegionSimilarity
{
    /// <summary>Histogram intersection Σ min(a_k, b_k): 1 for equal L1-normalised histograms, 0 for disjoint ones.</summary>
    public static double Intersection(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int k = 0; k < a.Length; k++) sum += Math.Min(a[k], b[k]);
        return sum;
    }

    /// <summary>s_size = 1 − (size(a) + size(b)) / size(image): small regions merge early.</summary>
    public static double Size(int sizeA, int sizeB, int imageSize) => 1.0 - (double)(sizeA + sizeB) / imageSize;

    /// <summary>s_fill = 1 − (size(BB_ab) − size(a) − size(b)) / size(image), BB_ab the box around both: regions
    /// that fill each other's gaps merge early.</summary>
    public static double Fill(int sizeA, int sizeB, long unionBoxArea, int imageSize)
        => 1.0 - (unionBoxArea - sizeA - sizeB) / (double)imageSize;

    /// <summary>The size-weighted mean of two regions' histograms: the histogram of their union.</summary>
    public static void Merge(ReadOnlySpan<float> a, int sizeA, ReadOnlySpan<float> b, int sizeB, Span<float> merged)
    {
        float total = sizeA + sizeB;
        for (int k = 0; k < merged.Length; k++) merged[k] = (a[k] * sizeA + b[k] * sizeB) / total;
    }
}
