using MLNetExtensions.Data;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Pixel-wise cross-entropy that skips ignored pixels (<see cref="SegmentationColumns.IgnoreIndex"/>, 255) entirely:
/// they add nothing to the sum and nothing to the count it is divided by, so neither the prediction under them nor
/// how many there are changes the loss. With class weights, the mean is weighted as torch's
/// <c>cross_entropy(weight=w, ignore_index=255)</c> is: Σ w[t]·(−log p[t]) / Σ w[t] over valid pixels.
/// </summary>
public static class SegmentationCrossEntropy
{
    /// <summary>The loss of logits (N, K, H, W) against targets (N, H, W) of class indices or 255; a scalar, 0 when no pixel is valid.</summary>
    /// <param name="logits">(N, K, H, W) class logits.</param>
    /// <param name="targets">(N, H, W) int64 class indices; 255 = ignore.</param>
    /// <param name="classWeights">Optional (K) weights per class.</param>
    public static Tensor Compute(Tensor logits, Tensor targets, Tensor? classWeights = null)
    {
        using var scope = NewDisposeScope();
        using Scalar ignored = SegmentationColumns.IgnoreIndex, tiny = 1e-12;                       // held (dotnet/TorchSharp#1434)
        var valid = targets.ne(ignored);                                                          // (N, H, W)
        var safe = where(valid, targets, zeros_like(targets));                                   // ignored → class 0, masked below
        var logp = nn.functional.log_softmax(logits, 1);                                          // (N, K, H, W)
        var picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);                                // (N, H, W)
        var weight = valid.to(logits.dtype);
        if (classWeights is not null) weight = weight * classWeights.to(logits.device).index_select(0, safe.flatten()).reshape(safe.shape);
        // Ignored pixels get weight 0; where() rather than a product keeps a non-finite value under them out of the sum.
        var terms = where(valid, -picked * weight, zeros_like(picked));
        return (terms.sum() / weight.sum().clamp_min(tiny)).MoveToOuterDisposeScope();
    }
}
