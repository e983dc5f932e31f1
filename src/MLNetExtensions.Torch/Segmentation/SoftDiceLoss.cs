using MLNetExtensions.Data;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Soft Dice loss over valid pixels: softmax probabilities p and one-hot targets t, both zeroed on ignored pixels
/// (255), summed per class over the batch and the image (axes N, H, W, never over classes), then
/// Dice_k = (2 Σ p·t + s) / (Σ p + Σ t + s) and loss = 1 − mean_k Dice_k (weighted when class weights are given).
/// The smoothing s = 1 makes a class absent from both target and prediction score 1 (nothing to get wrong) rather
/// than 0/0, while a class predicted where it is absent still scores near 0.
/// </summary>
public static class SoftDiceLoss
{
    /// <summary>Laplace smoothing of numerator and denominator.</summary>
    public const double Smoothing = 1.0;

    /// <summary>The loss of logits (N, K, H, W) against targets (N, H, W) of class indices or 255; a scalar in [0, 1].</summary>
    /// <param name="logits">(N, K, H, W) class logits.</param>
    /// <param name="targets">(N, H, W) int64 class indices; 255 = ignore.</param>
    /// <param name="classWeights">Optional (K) weights of the per-class Dice scores in their mean.</param>
    public static Tensor Compute(Tensor logits, Tensor targets, Tensor? classWeights = null)
    {
        using var scope = NewDisposeScope();
        long k = logits.shape[1];
        using Scalar ignored = SegmentationColumns.IgnoreIndex, two = 2, smoothing = Smoothing;   // held (dotnet/TorchSharp#1434)
        var valid = targets.ne(ignored).unsqueeze(1).to(logits.dtype);                           // (N, 1, H, W)
        var safe = where(targets.ne(ignored), targets, zeros_like(targets));
        var onehot = nn.functional.one_hot(safe, k).permute(0, 3, 1, 2).to(logits.dtype) * valid; // (N, K, H, W)
        var probs = where(valid.to(ScalarType.Bool), nn.functional.softmax(logits, 1), zeros_like(logits));
        long[] axes = [0, 2, 3];                                                                 // per class, over the batch
        var intersection = (probs * onehot).sum(axes);                                            // (K)
        var cardinality = probs.sum(axes).Plus(onehot.sum(axes));                                 // (K)
        var dice = (two * intersection).Plus(smoothing) / cardinality.Plus(smoothing);            // (K)
        var mean = classWeights is null
            ? dice.mean()
            : (dice * classWeights.to(logits.device)).sum() / classWeights.to(logits.device).sum();
        return HeldArithmetic.Minus(HeldArithmetic.One, mean).MoveToOuterDisposeScope();
    }
}
