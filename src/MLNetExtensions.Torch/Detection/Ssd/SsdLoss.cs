using MLNetExtensions.Torch.Training.HeldScalars;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Localisation loss of a detector's box regression.</summary>
public enum LocalizationLoss { SmoothL1, Mse }

/// <summary>The parts of a detector's loss for one mini-batch. Tensors are scalars attached to the graph.</summary>
public sealed record DetectionLossParts(Tensor Classification, Tensor Localization, long Positives, long Negatives)
{
    /// <summary>The parts as the training loop reports them: classification + localization, named.</summary>
    internal TrainingLoss ToTrainingLoss() => new(Classification.Plus(Localization), [("classification", Classification), ("localization", Localization)]);
}

/// <summary>
/// SSD's MultiBox loss with hard negative mining (Liu et al. 2016, section 2.2): over the whole mini-batch, keep all
/// positive default boxes and the <c>negPosRatio × max(1, positives)</c> negatives with the highest classification
/// loss; cross-entropy on those, localisation loss on positives only, both divided by max(1, positives).
/// </summary>
/// <remarks>
/// Mining is per mini-batch, not per image: an image without objects still contributes its hardest negatives,
/// and "at least 1" positive is assumed when counting, so an all-background batch still learns background.
/// </remarks>
public sealed class SsdLoss
{
    public SsdLoss(int negPosRatio = 3, LocalizationLoss localization = LocalizationLoss.SmoothL1, float localizationWeight = 1f)
    {
        if (negPosRatio < 1) throw new ArgumentOutOfRangeException(nameof(negPosRatio), negPosRatio, "The negative:positive ratio must be at least 1.");
        if (!(localizationWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(localizationWeight), localizationWeight, "The localisation weight must be >= 0.");
        NegPosRatio = negPosRatio;
        Localization = localization;
        LocalizationWeight = localizationWeight;
    }

    /// <summary>Target label of a default box that is neither object nor background: left out of both losses.</summary>
    public const long Ignored = -1;

    public int NegPosRatio { get; }
    public LocalizationLoss Localization { get; }
    public float LocalizationWeight { get; }

    /// <param name="classLogits">(N, A, C+1) scores, class 0 = background.</param>
    /// <param name="boxRegression">(N, A, 4) predicted box offsets.</param>
    /// <param name="targetLabels">(N, A) int64 matched class per default box, 0 = background, <see cref="Ignored"/> = neither.</param>
    /// <param name="targetBoxes">(N, A, 4) encoded matched boxes (only positives are read).</param>
    public DetectionLossParts Compute(Tensor classLogits, Tensor boxRegression, Tensor targetLabels, Tensor targetBoxes)
    {
        var (cls, loc, pos, neg, _) = ComputeWithMask(classLogits, boxRegression, targetLabels, targetBoxes);
        return new DetectionLossParts(cls, loc, pos, neg);
    }

    /// <summary>As <see cref="Compute"/>, also returning the (N, A) bool mask of the mined negatives.</summary>
    internal (Tensor Cls, Tensor Loc, long Positives, long Negatives, Tensor NegativeMask) ComputeWithMask(
        Tensor classLogits, Tensor boxRegression, Tensor targetLabels, Tensor targetBoxes)
    {
        if (classLogits.dim() != 3 || boxRegression.dim() != 3 || targetLabels.dim() != 2)
            throw new ArgumentException($"Expected logits (N, A, C+1), boxes (N, A, 4), labels (N, A); got [{string.Join(",", classLogits.shape)}], [{string.Join(",", boxRegression.shape)}], [{string.Join(",", targetLabels.shape)}].");
        using var scope = NewDisposeScope();
        long n = classLogits.shape[0], a = classLogits.shape[1], c = classLogits.shape[2];

        // Scalars held until the ops return (dotnet/TorchSharp#1434).
        using Scalar zero = 0, minusInfinity = float.NegativeInfinity, localizationWeight = LocalizationWeight, chosen = true;
        var positive = targetLabels.gt(zero);                                          // (N, A)
        var ignored = targetLabels.lt(zero);                                           // (N, A)
        long numPos = positive.sum().item<long>();
        long numIgnored = ignored.sum().item<long>();
        var ce = F.cross_entropy(classLogits.reshape(n * a, c), targetLabels.clamp_min(zero).reshape(n * a), reduction: nn.Reduction.None)
                  .reshape(n, a);                                                     // (N, A)

        // Rank negatives by loss; positives and ignored boxes can never be chosen.
        var negLoss = ce.detach().masked_fill(positive.logical_or(ignored), minusInfinity).reshape(-1);  // (N*A)
        long available = n * a - numPos - numIgnored;
        long numNeg = Math.Min((long)NegPosRatio * Math.Max(1, numPos), available);
        var negativeMask = zeros(n * a, dtype: ScalarType.Bool, device: classLogits.device);
        if (numNeg > 0)
        {
            var (_, idx) = negLoss.topk((int)numNeg);
            negativeMask.index_fill_(0, idx, chosen);
        }
        negativeMask = negativeMask.reshape(n, a);

        using Scalar norm = (float)Math.Max(1, numPos);
        var clsLoss = (ce * (positive.logical_or(negativeMask)).to(ce.dtype)).sum() / norm;

        // Elementwise loss kept only where the default box is positive (negatives' targets are never read).
        var elementwise = Localization == LocalizationLoss.SmoothL1
            ? F.smooth_l1_loss(boxRegression, targetBoxes, reduction: nn.Reduction.None)
            : F.mse_loss(boxRegression, targetBoxes, reduction: nn.Reduction.None);            // (N, A, 4)
        var locLoss = where(positive.unsqueeze(-1), elementwise, zeros_like(elementwise)).sum() / norm;
        locLoss = locLoss * localizationWeight;
        return (clsLoss.MoveToOuterDisposeScope(), locLoss.MoveToOuterDisposeScope(), numPos, numNeg, negativeMask.MoveToOuterDisposeScope());
    }
}
