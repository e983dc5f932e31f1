namespace MLNetExtensions.Boxes;

/// <summary>
/// Faster R-CNN's box encoding (torchvision's <c>BoxCoder</c>): a box relative to an anchor or proposal is
/// <c>(wx·(gx − ax)/aw, wy·(gy − ay)/ah, ww·log(gw/aw), wh·log(gh/ah))</c> with centres and sizes.
/// </summary>
/// <remarks>
/// The RPN uses weights (1, 1, 1, 1); the RoI box head (10, 10, 5, 5), which equals SSD's variances
/// (0.1, 0.1, 0.2, 0.2) as reciprocals. Anchors and boxes are <see cref="BoxFormat.Corners"/> in the continuous
/// convention of <see cref="BoxOps"/>. Decoding clamps the log size ratio at <c>log(1000/16)</c> before <c>exp</c>.
/// </remarks>
public sealed class FasterRcnnBoxCoder
{
    /// <summary>A coder with weights (1, 1, 1, 1), the region proposal network's.</summary>
    public static FasterRcnnBoxCoder Rpn() => new(1f, 1f, 1f, 1f);

    /// <summary>A coder with weights (10, 10, 5, 5), the RoI box head's.</summary>
    public static FasterRcnnBoxCoder RoiHeads() => new(10f, 10f, 5f, 5f);

    /// <summary>A coder with these weights.</summary>
    /// <param name="xWeight">Multiplies the x centre offset.</param>
    /// <param name="yWeight">Multiplies the y centre offset.</param>
    /// <param name="widthWeight">Multiplies the log width ratio.</param>
    /// <param name="heightWeight">Multiplies the log height ratio.</param>
    /// <param name="expClamp">Upper bound on the decoded log size ratio; default <c>log(1000/16)</c>.</param>
    public FasterRcnnBoxCoder(float xWeight = 1f, float yWeight = 1f, float widthWeight = 1f, float heightWeight = 1f, float? expClamp = null)
    {
        CenterSizeCodec.CheckWeight(xWeight, nameof(xWeight));
        CenterSizeCodec.CheckWeight(yWeight, nameof(yWeight));
        CenterSizeCodec.CheckWeight(widthWeight, nameof(widthWeight));
        CenterSizeCodec.CheckWeight(heightWeight, nameof(heightWeight));
        ExpClamp = expClamp ?? CenterSizeCodec.DefaultExpClamp;
        CenterSizeCodec.CheckExpClamp(ExpClamp);
        XWeight = xWeight; YWeight = yWeight; WidthWeight = widthWeight; HeightWeight = heightWeight;
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

    /// <summary>
    /// Encodes <paramref name="boxes"/> <c>(N, 4)</c> against <paramref name="anchors"/> <c>(N, 4)</c>, row by row,
    /// into <paramref name="codes"/> <c>(N, 4)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A box or anchor has no positive width or height.</exception>
    public void Encode(ReadOnlySpan<float> boxes, ReadOnlySpan<float> anchors, Span<float> codes)
    {
        int n = BoxSpan.Count(anchors, nameof(anchors));
        BoxSpan.RequireLength(boxes.Length, anchors.Length, nameof(boxes), $"{n}×4, one box per anchor");
        BoxSpan.RequireLength(codes.Length, anchors.Length, nameof(codes), $"{n}×4, one code per anchor");
        CenterSizeCodec.Encode(boxes, anchors, BoxFormat.Corners, XWeight, YWeight, WidthWeight, HeightWeight, codes);
    }

    /// <summary>Encodes <c>(N, 4)</c> boxes against <c>(N, 4)</c> anchors into a new <c>(N, 4)</c> array.</summary>
    public float[] Encode(ReadOnlySpan<float> boxes, ReadOnlySpan<float> anchors)
    {
        var codes = new float[anchors.Length];
        Encode(boxes, anchors, codes);
        return codes;
    }

    /// <summary>
    /// Decodes <paramref name="codes"/> <c>(N, 4K)</c> against <paramref name="anchors"/> <c>(N, 4)</c> into
    /// corner boxes <paramref name="boxes"/> <c>(N, 4K)</c>: K boxes per anchor, one per class in the box head's
    /// class-specific regression, K = 1 for the RPN.
    /// </summary>
    public void Decode(ReadOnlySpan<float> codes, ReadOnlySpan<float> anchors, Span<float> boxes)
    {
        int n = BoxSpan.Count(anchors, nameof(anchors));
        if (n == 0 ? codes.Length != 0 : codes.Length % (4 * n) != 0)
            throw new ArgumentException($"'codes' has {codes.Length} values; expected N×4K for the {n} anchors (K boxes per anchor).", nameof(codes));
        BoxSpan.RequireLength(boxes.Length, codes.Length, nameof(boxes), "same shape as the codes");
        CenterSizeCodec.Decode(codes, anchors, BoxFormat.Corners, XWeight, YWeight, WidthWeight, HeightWeight, ExpClamp, boxes);
    }

    /// <summary>Decodes <c>(N, 4K)</c> codes against <c>(N, 4)</c> anchors into a new <c>(N, 4K)</c> array.</summary>
    public float[] Decode(ReadOnlySpan<float> codes, ReadOnlySpan<float> anchors)
    {
        var boxes = new float[codes.Length];
        Decode(codes, anchors, boxes);
        return boxes;
    }
}
