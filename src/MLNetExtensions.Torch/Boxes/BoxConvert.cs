using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>Converts <c>(..., 4)</c> box tensors between corner and centre-size layouts (SSD priors are usually centre-size).</summary>
public static class BoxConvert
{
    /// <summary><c>[cx, cy, w, h]</c> to <c>[xmin, ymin, xmax, ymax]</c>.</summary>
    /// <param name="boxes"><c>(..., 4)</c> centre-size boxes.</param>
    /// <returns><c>(..., 4)</c> corner boxes.</returns>
    public static Tensor CenterSizeToCorners(Tensor boxes)
    {
        CheckLastDim(boxes, nameof(boxes));
        using var scope = torch.NewDisposeScope();
        var center = boxes[TensorIndex.Ellipsis, ..2];         // (..., 2)
        using Scalar halfOf = 0.5f;                            // held (dotnet/TorchSharp#1434)
        var half = halfOf * boxes[TensorIndex.Ellipsis, 2..];  // (..., 2)
        return torch.cat([center - half, center.Plus(half)], -1).MoveToOuterDisposeScope();
    }

    /// <summary><c>[xmin, ymin, xmax, ymax]</c> to <c>[cx, cy, w, h]</c>.</summary>
    /// <param name="boxes"><c>(..., 4)</c> corner boxes.</param>
    /// <returns><c>(..., 4)</c> centre-size boxes.</returns>
    public static Tensor CornersToCenterSize(Tensor boxes)
    {
        CheckLastDim(boxes, nameof(boxes));
        using var scope = torch.NewDisposeScope();
        var topLeft = boxes[TensorIndex.Ellipsis, ..2];       // (..., 2)
        var size = boxes[TensorIndex.Ellipsis, 2..] - topLeft; // (..., 2)
        using Scalar half = 0.5f;
        return torch.cat([topLeft.Plus(half * size), size], -1).MoveToOuterDisposeScope();
    }

    private static void CheckLastDim(Tensor boxes, string name)
    {
        ArgumentNullException.ThrowIfNull(boxes, name);
        if (boxes.dim() < 1 || boxes.shape[^1] != 4)
            throw new ArgumentException($"'{name}' has shape ({string.Join(", ", boxes.shape)}); expected (..., 4).", name);
    }
}
