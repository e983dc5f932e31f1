using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>
/// SSD's matching: a prior matches its best ground truth when their IoU is at least the threshold (0.5), and
/// additionally each ground truth claims its single best prior, whatever that prior's own best is (torchvision's
/// <c>SSDMatcher</c>, the original SSD's "best prior per ground truth" step).
/// </summary>
/// <remarks>
/// When two ground truths share the same best prior only one of them keeps it (on the CPU the later one).
/// A ground truth that overlaps no prior (best IoU 0) claims nothing.
/// </remarks>
public sealed class SsdMatcher : Matcher
{
    /// <summary>An SSD matcher; <paramref name="threshold"/> is SSD's 0.5 by default.</summary>
    /// <param name="threshold">IoU at or above which a prior matches its best ground truth.</param>
    /// <param name="ignoreThreshold">Priors whose best IoU is in [ignoreThreshold, threshold) get
    /// <see cref="Matcher.BetweenThresholds"/> (neither object nor background, as RetinaNet's 0.4–0.5 band); null or equal to
    /// <paramref name="threshold"/>: SSD's single threshold.</param>
    public SsdMatcher(float threshold = 0.5f, float? ignoreThreshold = null)
        : base(threshold, ignoreThreshold ?? threshold, allowLowQualityMatches: false) { }

    /// <inheritdoc/>
    public override Tensor Match(Tensor matchQuality)
    {
        CheckQuality(matchQuality);
        using var scope = torch.NewDisposeScope();
        var matches = base.Match(matchQuality);                          // (P)
        if (matchQuality.shape[0] == 0 || matchQuality.shape[1] == 0)
            return matches.MoveToOuterDisposeScope();
        var (bestQuality, bestPrior) = matchQuality.max(1);              // (G), (G)
        using Scalar zero = 0, first = 0L, count = matchQuality.shape[0], one = 1L;   // held (dotnet/TorchSharp#1434)
        var claims = bestQuality > zero;                                  // (G)
        var groundTruth = torch.arange(first, count, one, dtype: ScalarType.Int64, device: matchQuality.device)[claims]; // (G')
        matches.index_put_(groundTruth, bestPrior[claims]);
        return matches.MoveToOuterDisposeScope();
    }
}
