using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>
/// Pairwise intersection over union of two sets of <c>[xmin, ymin, xmax, ymax]</c> boxes, the tensor twin of
/// <see cref="MLNetExtensions.Boxes.BoxOps.PairwiseIou(ReadOnlySpan{float}, ReadOnlySpan{float})"/>.
/// </summary>
/// <remarks>
/// Same conventions as the scoring code: continuous coordinates (no +1), inverted boxes have area 0, and the IoU
/// of two empty boxes is 0 rather than torchvision's NaN, so a matcher never sees NaN.
/// </remarks>
public static class BoxIou
{
    /// <summary>IoU of every box of <paramref name="boxes1"/> with every box of <paramref name="boxes2"/>.</summary>
    /// <param name="boxes1"><c>(N, 4)</c> floating-point boxes.</param>
    /// <param name="boxes2"><c>(M, 4)</c> floating-point boxes on the same device.</param>
    /// <returns><c>(N, M)</c> IoU values in [0, 1].</returns>
    public static Tensor Pairwise(Tensor boxes1, Tensor boxes2)
    {
        CheckBoxes(boxes1, nameof(boxes1));
        CheckBoxes(boxes2, nameof(boxes2));
        using var scope = torch.NewDisposeScope();
        var area1 = Area(boxes1);                                                   // (N)
        var area2 = Area(boxes2);                                                   // (M)
        var topLeft = torch.maximum(boxes1[.., ..2].unsqueeze(1), boxes2[.., ..2].unsqueeze(0));      // (N, M, 2)
        var bottomRight = torch.minimum(boxes1[.., 2..].unsqueeze(1), boxes2[.., 2..].unsqueeze(0));  // (N, M, 2)
        using Scalar zero = 0;                                                      // held (dotnet/TorchSharp#1434)
        var wh = (bottomRight - topLeft).clamp_min(zero);                           // (N, M, 2)
        var inter = wh[.., .., 0] * wh[.., .., 1];                                  // (N, M)
        var union = area1.unsqueeze(1).Plus(area2.unsqueeze(0)) - inter;           // (N, M)
        var iou = torch.where(union > zero, inter / union, torch.zeros_like(inter)); // (N, M)
        return iou.MoveToOuterDisposeScope();
    }

    /// <summary>Areas of <c>(N, 4)</c> boxes, 0 for inverted ones.</summary>
    /// <returns><c>(N)</c>.</returns>
    public static Tensor Area(Tensor boxes)
    {
        CheckBoxes(boxes, nameof(boxes));
        using var scope = torch.NewDisposeScope();
        using Scalar zero = 0;
        var w = (boxes[.., 2] - boxes[.., 0]).clamp_min(zero);  // (N)
        var h = (boxes[.., 3] - boxes[.., 1]).clamp_min(zero);  // (N)
        return (w * h).MoveToOuterDisposeScope();
    }

    internal static void CheckBoxes(Tensor boxes, string name)
    {
        ArgumentNullException.ThrowIfNull(boxes, name);
        if (boxes.dim() != 2 || boxes.shape[1] != 4)
            throw new ArgumentException($"'{name}' has shape ({string.Join(", ", boxes.shape)}); expected (N, 4) boxes [xmin, ymin, xmax, ymax].", name);
        if (!boxes.is_floating_point())
            throw new ArgumentException($"'{name}' has dtype {boxes.dtype}; expected a floating-point tensor.", name);
    }
}
