using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>
/// Encodes boxes relative to anchors (priors, proposals) and decodes regression outputs back, on tensors:
/// <c>(wx·(gx − ax)/aw, wy·(gy − ay)/ah, ww·log(gw/aw), wh·log(gh/ah))</c> with centres and sizes.
/// The tensor twin of <see cref="MLNetExtensions.Boxes.FasterRcnnBoxCoder"/> and
/// <see cref="MLNetExtensions.Boxes.SsdBoxCoder"/>.
/// </summary>
/// <remarks>
/// One class serves both detectors. SSD divides by variances (0.1, 0.1, 0.2, 0.2); dividing by <c>v</c> is
/// multiplying by <c>1/v</c>, so SSD is this coder with weights (10, 10, 5, 5) (<see cref="FromVariances"/>),
/// which are also Faster R-CNN's RoI-head weights; the RPN uses (1, 1, 1, 1). Anchors are corners
/// (convert centre-size priors with <see cref="BoxConvert.CenterSizeToCorners"/>). Decoding clamps the log size
/// ratio at <c>log(1000/16)</c> before <c>exp</c>, as torchvision does.
/// </remarks>
public sealed class BoxCoder
{
    /// <summary>Default upper bound on the log size ratio when decoding, <c>log(1000/16)</c>.</summary>
    public static readonly float DefaultExpClamp = (float)Math.Log(1000.0 / 16.0);

    /// <summary>A coder with these weights.</summary>
    /// <param name="xWeight">Multiplies the x centre offset.</param>
    /// <param name="yWeight">Multiplies the y centre offset.</param>
    /// <param name="widthWeight">Multiplies the log width ratio.</param>
    /// <param name="heightWeight">Multiplies the log height ratio.</param>
    /// <param name="expClamp">Upper bound on the decoded log size ratio; default <see cref="DefaultExpClamp"/>.</param>
    public BoxCoder(float xWeight, float yWeight, float widthWeight, float heightWeight, float? expClamp = null)
    {
        CheckWeight(xWeight, nameof(xWeight));
        CheckWeight(yWeight, nameof(yWeight));
        CheckWeight(widthWeight, nameof(widthWeight));
        CheckWeight(heightWeight, nameof(heightWeight));
        ExpClamp = expClamp ?? DefaultExpClamp;
        if (float.IsNaN(ExpClamp))
            throw new ArgumentOutOfRangeException(nameof(expClamp), ExpClamp, "The exp clamp must be a number (use float.PositiveInfinity for none).");
        XWeight = xWeight; YWeight = yWeight; WidthWeight = widthWeight; HeightWeight = heightWeight;
    }

    /// <summary>Weights (1, 1, 1, 1): Faster R-CNN's region proposal network.</summary>
    public static BoxCoder Rpn() => new(1f, 1f, 1f, 1f);

    /// <summary>Weights (10, 10, 5, 5): Faster R-CNN's RoI box head.</summary>
    public static BoxCoder RoiHeads() => new(10f, 10f, 5f, 5f);

    /// <summary>SSD's coder: weights are the reciprocals of the variances, by default (0.1, 0.1, 0.2, 0.2) → (10, 10, 5, 5).</summary>
    public static BoxCoder FromVariances(float xVariance = 0.1f, float yVariance = 0.1f, float widthVariance = 0.2f, float heightVariance = 0.2f)
    {
        CheckWeight(xVariance, nameof(xVariance));
        CheckWeight(yVariance, nameof(yVariance));
        CheckWeight(widthVariance, nameof(widthVariance));
        CheckWeight(heightVariance, nameof(heightVariance));
        return new BoxCoder(1f / xVariance, 1f / yVariance, 1f / widthVariance, 1f / heightVariance);
    }

    /// <summary>Weight of the x centre offset.</summary>
    public float XWeight { get; }
    /// <summary>Weight of the y centre offset.</summary>
    public float YWeight { get; }
    /// <summary>Weight of the log width ratio.</summary>
    public float WidthWeight { get; }
    /// <summary>Weight of the log height ratio.</summary>
    public float HeightWeight { get; }
    /// <summary>Upper bound on the log size ratio before <c>exp</c> when decoding.</summary>
    public float ExpClamp { get; }

    /// <summary>Regression targets of <paramref name="boxes"/> relative to <paramref name="anchors"/>, row by row.</summary>
    /// <param name="boxes"><c>(N, 4)</c> corner boxes (the ground truth matched to each anchor).</param>
    /// <param name="anchors"><c>(N, 4)</c> corner anchors.</param>
    /// <returns><c>(N, 4)</c> codes.</returns>
    public Tensor Encode(Tensor boxes, Tensor anchors)
    {
        BoxIou.CheckBoxes(boxes, nameof(boxes));
        BoxIou.CheckBoxes(anchors, nameof(anchors));
        if (boxes.shape[0] != anchors.shape[0])
            throw new ArgumentException($"'boxes' has {boxes.shape[0]} rows and 'anchors' {anchors.shape[0]}; encode needs one box per anchor.", nameof(boxes));
        using var scope = torch.NewDisposeScope();
        // Scalars held until the ops return (dotnet/TorchSharp#1434), as everywhere on the training path.
        using Scalar half = 0.5f, xWeight = XWeight, yWeight = YWeight, widthWeight = WidthWeight, heightWeight = HeightWeight;
        var aw = anchors[.., 2] - anchors[.., 0];   // (N)
        var ah = anchors[.., 3] - anchors[.., 1];   // (N)
        var acx = anchors[.., 0].Plus(half * aw);   // (N)
        var acy = anchors[.., 1].Plus(half * ah);   // (N)
        var gw = boxes[.., 2] - boxes[.., 0];       // (N)
        var gh = boxes[.., 3] - boxes[.., 1];       // (N)
        var gcx = boxes[.., 0].Plus(half * gw);     // (N)
        var gcy = boxes[.., 1].Plus(half * gh);     // (N)
        var dx = xWeight * (gcx - acx) / aw;        // (N)
        var dy = yWeight * (gcy - acy) / ah;        // (N)
        var dw = widthWeight * torch.log(gw / aw);  // (N)
        var dh = heightWeight * torch.log(gh / ah); // (N)
        return torch.stack([dx, dy, dw, dh], 1).MoveToOuterDisposeScope(); // (N, 4)
    }

    /// <summary>Boxes predicted by regression <paramref name="codes"/> applied to <paramref name="anchors"/>.</summary>
    /// <param name="codes"><c>(N, 4K)</c>: K boxes per anchor (one per class in Faster R-CNN's box head, else K = 1).</param>
    /// <param name="anchors"><c>(N, 4)</c> corner anchors.</param>
    /// <returns><c>(N, 4K)</c> corner boxes.</returns>
    public Tensor Decode(Tensor codes, Tensor anchors)
    {
        BoxIou.CheckBoxes(anchors, nameof(anchors));
        ArgumentNullException.ThrowIfNull(codes);
        if (codes.dim() != 2 || codes.shape[0] != anchors.shape[0] || codes.shape[1] % 4 != 0 || codes.shape[1] == 0)
            throw new ArgumentException($"'codes' has shape ({string.Join(", ", codes.shape)}); expected ({anchors.shape[0]}, 4K), K boxes per anchor.", nameof(codes));
        using var scope = torch.NewDisposeScope();
        long n = codes.shape[0], k = codes.shape[1] / 4;
        anchors = anchors.to(codes.dtype);
        using Scalar half = 0.5f, xWeight = XWeight, yWeight = YWeight, widthWeight = WidthWeight, heightWeight = HeightWeight, expClamp = ExpClamp;
        var aw = (anchors[.., 2] - anchors[.., 0]).unsqueeze(1);   // (N, 1)
        var ah = (anchors[.., 3] - anchors[.., 1]).unsqueeze(1);   // (N, 1)
        var acx = anchors[.., 0].unsqueeze(1).Plus(half * aw);     // (N, 1)
        var acy = anchors[.., 1].unsqueeze(1).Plus(half * ah);     // (N, 1)
        var perBox = codes.view(n, k, 4);                           // (N, K, 4)
        var dx = perBox[.., .., 0] / xWeight;                       // (N, K)
        var dy = perBox[.., .., 1] / yWeight;                       // (N, K)
        var dw = (perBox[.., .., 2] / widthWeight).clamp_max(expClamp);  // (N, K)
        var dh = (perBox[.., .., 3] / heightWeight).clamp_max(expClamp); // (N, K)
        var cx = (dx * aw).Plus(acx);                               // (N, K)
        var cy = (dy * ah).Plus(acy);                               // (N, K)
        var halfW = half * (torch.exp(dw) * aw);                    // (N, K)
        var halfH = half * (torch.exp(dh) * ah);                    // (N, K)
        var boxes = torch.stack([cx - halfW, cy - halfH, cx.Plus(halfW), cy.Plus(halfH)], 2); // (N, K, 4)
        return boxes.view(n, 4 * k).MoveToOuterDisposeScope();     // (N, 4K)
    }

    private static void CheckWeight(float value, string name)
    {
        if (!(value > 0f) || float.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be a positive finite number.");
    }
}
