namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Felzenszwalb–Huttenlocher graph-based segmentation (IJCV 2004), the over-segmentation that selective search
/// (classic R-CNN's region proposals) starts from. Reproduces <c>skimage.segmentation.felzenszwalb(image, scale,
/// sigma, min_size, channel_axis=-1)</c> of scikit-image 0.19 label for label.
/// </summary>
/// <remarks>
/// <para>The steps, as skimage takes them: 8-bit pixels become <c>v · (1/255)</c> (float pixels are used as they
/// are); each channel is smoothed by <c>scipy.ndimage.gaussian_filter</c> (kernel radius <c>⌊4σ + 0.5⌋</c>, mode
/// 'reflect', first down the columns, then along the rows, same rounding order); the grid graph has the right, down,
/// down-right and up-right edge of every pixel (8-connectivity), weighted by the Euclidean distance of the smoothed
/// colours; the edges are ordered by <c>numpy.argsort</c>'s unstable introsort, whose order of equal weights decides
/// merges; Kruskal-style union–find joins two components when the edge weight is below
/// <c>min(Int(C) + k/|C|)</c> over both, with <c>k = scale/255</c> and that threshold rounded to float32 as skimage's
/// Cython does; a second pass over the same order joins every component smaller than <c>min_size</c> to its
/// neighbour; labels number the components in the raster order of their first pixel.</para>
/// <para>A union keeps the smaller root index, so a component's root is its first pixel: skimage's relabelling with
/// <c>np.unique(..., return_inverse=True)</c> amounts to that raster order.</para>
/// </remarks>
public static class FelzenszwalbSegmentation
{
    /// <summary>Segments an 8-bit image given as interleaved rows (H×W×C, e.g. RGB).</summary>
    /// <param name="pixels">height × width × channels bytes, row by row, channels interleaved.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="channels">1 (gray) to 4 channels.</param>
    /// <param name="options">Scale, sigma and minimum size; skimage's defaults when null.</param>
    public static FelzenszwalbSegments Segment(ReadOnlySpan<byte> pixels, int height, int width, int channels,
        FelzenszwalbOptions? options = null)
    {
        options ??= new FelzenszwalbOptions();
        CheckArguments(pixels.Length, height, width, channels, options);
        // skimage's img_as_float64: np.multiply(image, 1. / 255), which is not always the same double as v / 255.
        const double inverse255 = 1.0 / 255.0;
        var image = new double[pixels.Length];
        for (int i = 0; i < image.Length; i++) image[i] = pixels[i] * inverse255;
        return Run(image, height, width, channels, options);
    }

    /// <summary>
    /// Segments a floating-point image given as interleaved rows (H×W×C), used as it is (skimage does not rescale
    /// float images: pass 0–1 intensities for the <paramref name="options"/>' scale to mean what it means for 8-bit
    /// images).
    /// </summary>
    public static FelzenszwalbSegments Segment(ReadOnlySpan<float> pixels, int height, int width, int channels,
        FelzenszwalbOptions? options = null)
    {
        options ??= new FelzenszwalbOptions();
        CheckArguments(pixels.Length, height, width, channels, options);
        var image = new double[pixels.Length];
        for (int i = 0; i < image.Length; i++)
        {
            if (!float.IsFinite(pixels[i])) throw NotFinite(i, pixels[i], width, channels);
            image[i] = pixels[i];
        }
        return Run(image, height, width, channels, options);
    }

    /// <inheritdoc cref="Segment(ReadOnlySpan{float}, int, int, int, FelzenszwalbOptions?)"/>
    public static FelzenszwalbSegments Segment(ReadOnlySpan<double> pixels, int height, int width, int channels,
        FelzenszwalbOptions? options = null)
    {
        options ??= new FelzenszwalbOptions();
        CheckArguments(pixels.Length, height, width, channels, options);
        var image = pixels.ToArray();
        for (int i = 0; i < image.Length; i++)
            if (!double.IsFinite(image[i])) throw NotFinite(i, image[i], width, channels);
        return Run(image, height, width, channels, options);
    }

    private static void CheckArguments(int length, int height, int width, int channels, FelzenszwalbOptions options)
    {
        if (height < 1)
            throw new ArgumentOutOfRangeException(nameof(height), height, "The image needs at least one row.");
        if (width < 1)
            throw new ArgumentOutOfRangeException(nameof(width), width, "The image needs at least one column.");
        if (channels is < 1 or > 4)
            throw new ArgumentOutOfRangeException(nameof(channels), channels,
                "Pass 1 (gray) to 4 interleaved channels per pixel; split other layouts into such images first.");
        // The graph has about 4 edges per pixel, indexed with int.
        if ((long)height * width > int.MaxValue / 4 / channels)
            throw new ArgumentOutOfRangeException(nameof(height),
                $"A {height}×{width} image has too many pixels for one graph; segment it in tiles.");
        long expected = (long)height * width * channels;
        if (length != expected)
            throw new ArgumentException(
                $"The pixel buffer holds {length} values but a {height}×{width} image with {channels} channel(s) needs height × width × channels = {expected}: pass the pixels row by row with the channels interleaved.",
                "pixels");
        if (!(options.Scale > 0) || !double.IsFinite(options.Scale))
            throw new ArgumentOutOfRangeException(nameof(options), options.Scale,
                "FelzenszwalbOptions.Scale must be positive and finite: it sets the segment size (skimage's scale, e.g. 100 to 500).");
        if (!(options.Sigma >= 0) || !double.IsFinite(options.Sigma))
            throw new ArgumentOutOfRangeException(nameof(options), options.Sigma,
                "FelzenszwalbOptions.Sigma must be non-negative and finite: it is the Gaussian smoothing's standard deviation in pixels (0 turns smoothing off, skimage's default is 0.8).");
        if (options.MinSize < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.MinSize,
                "FelzenszwalbOptions.MinSize must be non-negative: it is the smallest segment in pixels kept apart (0 keeps all).");
    }

    private static ArgumentException NotFinite(int index, double value, int width, int channels)
    {
        int pixel = index / channels;
        return new ArgumentException(
            $"Pixel (row {pixel / width}, column {pixel % width}) channel {index % channels} is {value}: the image must hold finite values.",
            "pixels");
    }

    private static FelzenszwalbSegments Run(double[] image, int height, int width, int channels,
        FelzenszwalbOptions options)
    {
        // scipy's gaussian_filter skips every axis whose sigma is not above 1e-15.
        if (options.Sigma > 1e-15) image = GaussianSmooth(image, height, width, channels, options.Sigma);
        var (first, second, costs) = BuildGraph(image, height, width, channels);
        int[] order = NumpyArgsort.Argsort(costs);
        // As skimage does: the edges and weights in sorted order, so that both passes read them front to back.
        var sortedFirst = new int[order.Length];
        var sortedSecond = new int[order.Length];
        var sortedCosts = new double[order.Length];
        for (int i = 0; i < order.Length; i++)
        {
            int e = order[i];
            sortedFirst[i] = first[e];
            sortedSecond[i] = second[e];
            sortedCosts[i] = costs[e];
        }
        int[] forest = Merge(sortedFirst, sortedSecond, sortedCosts, height * width, options.Scale / 255.0,
            options.MinSize);
        return Relabel(forest, height, width);
    }

    /// <summary>
    /// scipy.ndimage.gaussian_filter(image, [σ, σ, 0], mode='reflect', truncate=4.0) on an H×W×C array: a
    /// correlate1d down the columns, then one along the rows, each summing symmetric taps as scipy's C loop does,
    /// <c>x₀·w₀ + (x₋ᵣ + xᵣ)·wᵣ + … + (x₋₁ + x₁)·w₁</c>.
    /// </summary>
    internal static double[] GaussianSmooth(double[] image, int height, int width, int channels, double sigma)
    {
        double[] weights = GaussianWeights(sigma);
        int radius = weights.Length - 1;
        var columns = new double[image.Length];
        var line = new double[Math.Max(height, width) + 2 * radius];
        for (int x = 0; x < width; x++)
            for (int c = 0; c < channels; c++)
                Correlate(image, columns, x * channels + c, width * channels, height, weights, line);
        var result = new double[image.Length];
        for (int y = 0; y < height; y++)
            for (int c = 0; c < channels; c++)
                Correlate(columns, result, y * width * channels + c, channels, width, weights, line);
        return result;
    }

    /// <summary>The one-sided taps w₀ … wᵣ of scipy's _gaussian_kernel1d(σ, 0, ⌊4σ + 0.5⌋).</summary>
    private static double[] GaussianWeights(double sigma)
    {
        int radius = (int)(4.0 * sigma + 0.5);
        double factor = -0.5 / (sigma * sigma);
        var phi = new double[2 * radius + 1];
        for (int i = 0; i < phi.Length; i++)
        {
            long x = i - radius;
            phi[i] = Math.Exp(factor * (x * x));
        }
        double sum = PairwiseSum(phi);
        var weights = new double[radius + 1];
        for (int k = 0; k <= radius; k++) weights[k] = phi[radius + k] / sum;
        return weights;
    }

    /// <summary>numpy's float64 add.reduce: pairwise summation, 8 running sums per block of up to 128.</summary>
    private static double PairwiseSum(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double res = 0.0;
            for (int i = 0; i < n; i++) res += a[i];
            return res;
        }
        if (n <= 128)
        {
            Span<double> r = stackalloc double[8];
            a[..8].CopyTo(r);
            int i = 8;
            for (; i < n - n % 8; i += 8)
                for (int j = 0; j < 8; j++) r[j] += a[i + j];
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) res += a[i];
            return res;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSum(a[..half]) + PairwiseSum(a[half..]);
    }

    /// <summary>One line of scipy's NI_Correlate1D for a symmetric kernel, 'reflect' extension (…cba|abc…|cba…).</summary>
    private static void Correlate(double[] input, double[] output, int start, int stride, int length,
        double[] weights, double[] line)
    {
        int radius = weights.Length - 1;
        for (int i = -radius; i < length + radius; i++)
            line[i + radius] = input[start + Reflect(i, length) * stride];
        for (int l = 0; l < length; l++)
        {
            int centre = l + radius;
            double value = line[centre] * weights[0];
            for (int k = radius; k >= 1; k--) value += (line[centre - k] + line[centre + k]) * weights[k];
            output[start + l * stride] = value;
        }
    }

    /// <summary>scipy's 'reflect' index (…cba|abc…|cba…), also for offsets that pass a short line more than once.</summary>
    internal static int Reflect(int i, int length)
    {
        if ((uint)i < (uint)length) return i;
        int period = 2 * length;
        int m = i % period;
        if (m < 0) m += period;
        return m < length ? m : period - 1 - m;
    }

    /// <summary>
    /// The edges in skimage's order (all right edges, then down, down-right, up-right, each block row-major) with
    /// skimage's endpoint order and <c>sqrt(Σ_c (a_c − b_c)²)</c> weights.
    /// </summary>
    private static (int[] First, int[] Second, double[] Costs) BuildGraph(double[] image, int height, int width,
        int channels)
    {
        int count = height * (width - 1) + (height - 1) * width + 2 * (height - 1) * (width - 1);
        var first = new int[count];
        var second = new int[count];
        var costs = new double[count];
        int e = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x + 1 < width; x++)
                Add(y * width + x + 1, y * width + x);
        for (int y = 0; y + 1 < height; y++)
            for (int x = 0; x < width; x++)
                Add((y + 1) * width + x, y * width + x);
        for (int y = 0; y + 1 < height; y++)
            for (int x = 0; x + 1 < width; x++)
                Add((y + 1) * width + x + 1, y * width + x);
        for (int y = 0; y + 1 < height; y++)
            for (int x = 0; x + 1 < width; x++)
                Add(y * width + x + 1, (y + 1) * width + x);
        return (first, second, costs);

        void Add(int a, int b)
        {
            int pa = a * channels, pb = b * channels;
            double d = image[pa] - image[pb];
            double sum = d * d;
            for (int c = 1; c < channels; c++)
            {
                d = image[pa + c] - image[pb + c];
                sum += d * d;
            }
            first[e] = a;
            second[e] = b;
            costs[e] = Math.Sqrt(sum);
            e++;
        }
    }

    /// <summary>skimage's two passes over the edges, sorted, on its union–find forest; returns the forest.</summary>
    private static int[] Merge(int[] first, int[] second, double[] costs, int pixelCount, double k, int minSize)
    {
        var forest = new int[pixelCount];
        var size = new long[pixelCount];
        var internalCost = new double[pixelCount];
        for (int i = 0; i < pixelCount; i++)
        {
            forest[i] = i;
            size[i] = 1;
        }
        for (int e = 0; e < costs.Length; e++)
        {
            int s0 = FindRoot(forest, first[e]);
            int s1 = FindRoot(forest, second[e]);
            if (s0 == s1) continue;
            // skimage keeps these two in C floats: the threshold is rounded to float32, the weight is not.
            float inner0 = (float)(internalCost[s0] + k / size[s0]);
            float inner1 = (float)(internalCost[s1] + k / size[s1]);
            double cost = costs[e];
            if (cost < Math.Min(inner0, inner1))
            {
                int root = Join(forest, s0, s1);
                size[root] = size[s0] + size[s1];
                internalCost[root] = cost;
            }
        }
        for (int e = 0; e < costs.Length; e++)
        {
            int s0 = FindRoot(forest, first[e]);
            int s1 = FindRoot(forest, second[e]);
            if (s0 == s1) continue;
            if (size[s0] < minSize || size[s1] < minSize)
            {
                int root = Join(forest, s0, s1);
                size[root] = size[s0] + size[s1];
            }
        }
        return forest;
    }

    // skimage.measure._ccomp: a node's parent has a smaller index; the root is the node that is its own parent (and
    // the smallest index of its tree). skimage walks the whole path every time; halving it on the way changes no
    // root, so no decision, and keeps the paths short.
    private static int FindRoot(int[] forest, int n)
    {
        while (forest[n] < n)
        {
            int parent = forest[n];
            forest[n] = forest[parent];
            n = parent;
        }
        return n;
    }

    /// <summary>Joins two distinct roots under the smaller one (what _ccomp.join_trees does with roots).</summary>
    private static int Join(int[] forest, int r0, int r1)
    {
        int root = Math.Min(r0, r1);
        forest[r0] = root;
        forest[r1] = root;
        return root;
    }

    private static FelzenszwalbSegments Relabel(int[] forest, int height, int width)
    {
        var labels = new int[forest.Length];
        int count = 0;
        for (int p = 0; p < forest.Length; p++)
        {
            int root = FindRoot(forest, p);
            labels[p] = root == p ? count++ : labels[root];
        }
        return new FelzenszwalbSegments(labels, height, width, count);
    }
}
