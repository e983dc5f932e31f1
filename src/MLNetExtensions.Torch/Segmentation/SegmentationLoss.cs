using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>Which loss a segmenter trains with.</summary>
public enum SegmentationLossKind
{
    /// <summary>Pixel-wise cross-entropy over valid pixels (<see cref="SegmentationCrossEntropy"/>).</summary>
    CrossEntropy,
    /// <summary>Soft Dice over valid pixels (<see cref="SoftDiceLoss"/>).</summary>
    Dice,
    /// <summary>Cross-entropy + DiceWeight × Dice.</summary>
    CrossEntropyAndDice,
}

/// <summary>The loss parts of one batch: both are always computed (for reporting); <see cref="Total"/> is what is minimised.</summary>
public sealed record SegmentationLossParts(Tensor CrossEntropy, Tensor Dice, Tensor Total);

/// <summary>The training loss of a segmenter: cross-entropy, soft Dice, or their weighted sum, all blind to 255 pixels.</summary>
public sealed class SegmentationLoss
{
    private readonly Tensor? _classWeights;

    /// <summary>Creates the loss.</summary>
    /// <param name="kind">What is minimised.</param>
    /// <param name="diceWeight">Weight of Dice in <see cref="SegmentationLossKind.CrossEntropyAndDice"/>.</param>
    /// <param name="classWeights">Optional weights per class (length K, non-negative, not all zero).</param>
    public SegmentationLoss(SegmentationLossKind kind, double diceWeight = 1.0, IReadOnlyList<float>? classWeights = null)
    {
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown loss.");
        if (!(diceWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(diceWeight), diceWeight, "The Dice weight must be >= 0.");
        if (classWeights != null && (classWeights.Any(w => !(w >= 0) || !float.IsFinite(w)) || classWeights.All(w => w == 0)))
            throw new ArgumentException($"Class weights must be finite, non-negative and not all zero; got [{string.Join(", ", classWeights)}].", nameof(classWeights));
        Kind = kind;
        DiceWeight = diceWeight;
        var weights = classWeights?.ToArray();
        ClassWeights = weights;
        if (weights != null) _classWeights = tensor(weights).DetachFromDisposeScope();
    }

    public SegmentationLossKind Kind { get; }
    public double DiceWeight { get; }
    public IReadOnlyList<float>? ClassWeights { get; }

    /// <summary>Loss parts of logits (N, K, H, W) against targets (N, H, W) (int64 class indices, 255 = ignore).</summary>
    public SegmentationLossParts Compute(Tensor logits, Tensor targets)
    {
        if (_classWeights is not null && _classWeights.shape[0] != logits.shape[1])
            throw new ArgumentException($"{_classWeights.shape[0]} class weights were given for {logits.shape[1]} classes.");
        var ce = SegmentationCrossEntropy.Compute(logits, targets, _classWeights);
        var dice = SoftDiceLoss.Compute(logits, targets, _classWeights);
        using Scalar diceWeight = DiceWeight;   // held (dotnet/TorchSharp#1434)
        var total = Kind switch
        {
            SegmentationLossKind.CrossEntropy => ce.alias(),
            SegmentationLossKind.Dice => dice.alias(),
            _ => ce.Plus(diceWeight * dice),
        };
        return new SegmentationLossParts(ce, dice, total);
    }
}
