using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>
/// Assigns each prediction (anchor, prior, proposal) to a ground-truth box by match quality (IoU), as
/// torchvision's <c>Matcher</c> does for Faster R-CNN and RetinaNet.
/// </summary>
/// <remarks>
/// For each prediction the best ground truth is taken; if its quality is below <see cref="LowThreshold"/> the
/// prediction gets <see cref="BelowLowThreshold"/> (-1, background), if it lies in [low, high) it gets
/// <see cref="BetweenThresholds"/> (-2, ignored), otherwise the ground truth's index. With
/// <see cref="AllowLowQualityMatches"/>, every prediction that is some ground truth's best (ties included)
/// keeps its own best ground truth even below the thresholds, so no ground truth is left without a prediction.
/// One deliberate difference from torchvision: a ground truth that overlaps no prediction at all (best quality 0)
/// forces nothing, where torchvision would turn every zero-overlap prediction into a match.
/// With no ground truth every prediction is <see cref="BelowLowThreshold"/> (torchvision throws instead).
/// </remarks>
public class Matcher
{
    /// <summary>Match value of a prediction whose best quality is below the low threshold: background.</summary>
    public const long BelowLowThreshold = -1;

    /// <summary>Match value of a prediction whose best quality is in [low, high): neither, ignored in the loss.</summary>
    public const long BetweenThresholds = -2;

    /// <summary>A matcher with a single threshold: below it background, at or above it a match (SSD, RetinaNet-like).</summary>
    public Matcher(float threshold, bool allowLowQualityMatches = false) : this(threshold, threshold, allowLowQualityMatches) { }

    /// <summary>A matcher with a band of ignored predictions between the two thresholds (Faster R-CNN RPN: 0.7 / 0.3).</summary>
    /// <param name="highThreshold">Quality at or above which a prediction matches its best ground truth.</param>
    /// <param name="lowThreshold">Quality below which a prediction is background; at most <paramref name="highThreshold"/>.</param>
    /// <param name="allowLowQualityMatches">Give each ground truth its best prediction(s) even below the thresholds.</param>
    public Matcher(float highThreshold, float lowThreshold, bool allowLowQualityMatches = false)
    {
        if (!float.IsFinite(highThreshold))
            throw new ArgumentOutOfRangeException(nameof(highThreshold), highThreshold, "The high threshold must be a finite number.");
        if (!float.IsFinite(lowThreshold) || lowThreshold > highThreshold)
            throw new ArgumentOutOfRangeException(nameof(lowThreshold), lowThreshold, $"The low threshold must be a finite number at most the high threshold ({highThreshold}).");
        HighThreshold = highThreshold;
        LowThreshold = lowThreshold;
        AllowLowQualityMatches = allowLowQualityMatches;
    }

    /// <summary>Quality at or above which a prediction matches.</summary>
    public float HighThreshold { get; }

    /// <summary>Quality below which a prediction is background.</summary>
    public float LowThreshold { get; }

    /// <summary>Whether each ground truth keeps its best prediction(s) regardless of the thresholds.</summary>
    public bool AllowLowQualityMatches { get; }

    /// <summary>Matches predictions to ground truth.</summary>
    /// <param name="matchQuality"><c>(G, P)</c> quality (IoU) of each ground truth with each prediction,
    /// e.g. <see cref="BoxIou.Pairwise"/>(groundTruth, anchors).</param>
    /// <returns><c>(P)</c> int64: the matched ground-truth index, or <see cref="BelowLowThreshold"/> or
    /// <see cref="BetweenThresholds"/>.</returns>
    public virtual Tensor Match(Tensor matchQuality)
    {
        CheckQuality(matchQuality);
        using var scope = torch.NewDisposeScope();
        long groundTruths = matchQuality.shape[0], predictions = matchQuality.shape[1];
        // Scalars held until the ops return (dotnet/TorchSharp#1434).
        using Scalar belowLow = BelowLowThreshold, betweenThresholds = BetweenThresholds, low = LowThreshold, high = HighThreshold, zero = 0;
        if (groundTruths == 0 || predictions == 0)
            return torch.full(predictions, belowLow, dtype: ScalarType.Int64, device: matchQuality.device).MoveToOuterDisposeScope();

        var (bestQuality, bestGroundTruth) = matchQuality.max(0);        // (P), (P)
        var below = bestQuality < low;                                    // (P)
        var between = (bestQuality >= low) & (bestQuality < high);       // (P)
        var matches = bestGroundTruth.masked_fill(below, belowLow).masked_fill(between, betweenThresholds); // (P)
        if (AllowLowQualityMatches)
        {
            var bestPerGroundTruth = matchQuality.max(1).values.unsqueeze(1); // (G, 1)
            var isBest = (matchQuality == bestPerGroundTruth) & (bestPerGroundTruth > zero); // (G, P)
            var predictionsToRestore = isBest.nonzero()[.., 1];              // (K)
            matches.index_put_(bestGroundTruth.index_select(0, predictionsToRestore), predictionsToRestore);
        }
        return matches.MoveToOuterDisposeScope();
    }

    /// <summary>Throws unless the quality matrix is a 2-D floating-point tensor.</summary>
    protected static void CheckQuality(Tensor matchQuality)
    {
        ArgumentNullException.ThrowIfNull(matchQuality);
        if (matchQuality.dim() != 2 || !matchQuality.is_floating_point())
            throw new ArgumentException($"'matchQuality' has shape ({string.Join(", ", matchQuality.shape)}) and dtype {matchQuality.dtype}; expected a (G, P) floating-point matrix, ground truth by prediction.", nameof(matchQuality));
    }
}
