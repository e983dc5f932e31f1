namespace MLNetExtensions.Detection.Rcnn;

/// <summary>Settings of <see cref="SelectiveSearch"/>, each checked when set.</summary>
public sealed record SelectiveSearchOptions
{
    private readonly SelectiveSearchStrategy _strategy = SelectiveSearchStrategy.Fast;
    private readonly double _sigma = 0.8;
    private readonly int _minBoxSize;
    private readonly int? _minRegionSize;

    /// <summary>The diversification: <see cref="SelectiveSearchStrategy.Fast"/> (default) or
    /// <see cref="SelectiveSearchStrategy.Quality"/>.</summary>
    public SelectiveSearchStrategy Strategy
    {
        get => _strategy;
        init => _strategy = Enum.IsDefined(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(Strategy), value,
                "SelectiveSearchOptions.Strategy must be SelectiveSearchStrategy.Fast or SelectiveSearchStrategy.Quality.");
    }

    /// <summary>Seed of the random ranking (rank = level × U[0, 1) per region): the same seed and image give the same
    /// boxes in the same order.</summary>
    public int Seed { get; init; }

    /// <summary>Gaussian smoothing of the Felzenszwalb segmentations, in pixels (the paper's and OpenCV's 0.8).</summary>
    public double Sigma
    {
        get => _sigma;
        init => _sigma = value >= 0 && double.IsFinite(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(Sigma), value,
                "SelectiveSearchOptions.Sigma must be non-negative and finite: it is the Felzenszwalb smoothing's standard deviation in pixels (0.8 in the paper and OpenCV).");
    }

    /// <summary>Proposals narrower or lower than this many pixels are left out (0, the default, keeps all; R-CNN
    /// used 20 on PASCAL images).</summary>
    public int MinBoxSize
    {
        get => _minBoxSize;
        init => _minBoxSize = value >= 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(MinBoxSize), value,
                "SelectiveSearchOptions.MinBoxSize must be non-negative: proposals narrower or lower than it (in pixels) are left out, 0 keeps all.");
    }

    /// <summary>Felzenszwalb's min_size for every segmentation: null (the default) uses k, as the paper's code does;
    /// a smaller value keeps small objects of small images as their own starting regions (at min_size = k = 300 an
    /// object under 300 pixels is always merged into a neighbour before grouping starts).</summary>
    public int? MinRegionSize
    {
        get => _minRegionSize;
        init => _minRegionSize = value is null or >= 0 ? value
            : throw new ArgumentOutOfRangeException(nameof(MinRegionSize), value,
                "SelectiveSearchOptions.MinRegionSize must be non-negative or null: it is Felzenszwalb's min_size in pixels (null uses each segmentation's k, as the paper).");
    }
}
