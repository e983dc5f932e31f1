namespace MLNetExtensions.Boxes;

/// <summary>Settings of <see cref="NonMaxSuppression"/>, validated here once.</summary>
public sealed class NmsOptions
{
    /// <summary>Default IoU above which a lower-scored box is suppressed.</summary>
    public const float DefaultIouThreshold = 0.5f;

    /// <param name="iouThreshold">A box is suppressed when its IoU with a kept, higher-scored box is strictly greater than this. In [0, 1].</param>
    /// <param name="scoreThreshold">Boxes whose score is not strictly greater than this are dropped before suppression. The default, float.NegativeInfinity, keeps every score that is a number; NaN scores are always dropped.</param>
    /// <param name="maxPerClass">At most this many boxes are kept per class (per call for single-class NMS). Default: no limit.</param>
    /// <param name="maxTotal">At most this many boxes are kept in all, the highest-scored ones. Default: no limit.</param>
    public NmsOptions(float iouThreshold = DefaultIouThreshold, float scoreThreshold = float.NegativeInfinity, int maxPerClass = int.MaxValue, int maxTotal = int.MaxValue)
    {
        if (!(iouThreshold >= 0f && iouThreshold <= 1f))
            throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "The IoU threshold must be in [0, 1].");
        if (float.IsNaN(scoreThreshold))
            throw new ArgumentOutOfRangeException(nameof(scoreThreshold), scoreThreshold, "The score threshold must be a number (float.NegativeInfinity keeps every score).");
        if (maxPerClass < 0)
            throw new ArgumentOutOfRangeException(nameof(maxPerClass), maxPerClass, "The number of boxes kept per class must be >= 0.");
        if (maxTotal < 0)
            throw new ArgumentOutOfRangeException(nameof(maxTotal), maxTotal, "The total number of boxes kept must be >= 0.");
        IouThreshold = iouThreshold;
        ScoreThreshold = scoreThreshold;
        MaxPerClass = maxPerClass;
        MaxTotal = maxTotal;
    }

    /// <summary>IoU strictly above which a lower-scored box is suppressed.</summary>
    public float IouThreshold { get; }

    /// <summary>Scores not strictly above this are dropped first; float.NegativeInfinity keeps all but NaN.</summary>
    public float ScoreThreshold { get; }

    /// <summary>Most boxes kept per class.</summary>
    public int MaxPerClass { get; }

    /// <summary>Most boxes kept in all.</summary>
    public int MaxTotal { get; }
}
