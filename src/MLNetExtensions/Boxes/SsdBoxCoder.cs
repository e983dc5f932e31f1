namespace MLNetExtensions.Boxes;

/// <summary>
/// SSD's box encoding: each box is written relative to its prior (default box) as centre offsets scaled by the
/// prior size and log size ratios, each divided by a variance:
/// <c>((gx − px)/(pw·vx), (gy − py)/(ph·vy), log(gw/pw)/vw, log(gh/ph)/vh)</c>.
/// </summary>
/// <remarks>
/// Dividing by the variances is the same as multiplying by the weights <c>1/v</c>: the default variances
/// (0.1, 0.1, 0.2, 0.2) are Faster R-CNN's box-head weights (10, 10, 5, 5), which is how torchvision's SSD encodes.
/// Boxes are <see cref="BoxFormat.Corners"/>; priors may be corners or centre-size and are converted once here.
/// Decoding clamps the log size ratio at <c>log(1000/16)</c> before <c>exp</c>, as torchvision does.
/// Coordinates follow <see cref="BoxOps"/>' continuous convention.
/// </remarks>
public sealed class SsdBoxCoder
{
    private readonly float[] _priors; // (P, 4) centre-size
    private readonly float _wx, _wy, _ww, _wh;

    /// <summary>A coder for these priors with the standard variances (0.1, 0.1, 0.2, 0.2).</summary>
    /// <param name="priors"><c>(P, 4)</c> priors in <paramref name="priorFormat"/>.</param>
    /// <param name="priorFormat">How the priors are written.</param>
    public SsdBoxCoder(ReadOnlySpan<float> priors, BoxFormat priorFormat = BoxFormat.CenterSize)
        : this(priors, priorFormat, 0.1f, 0.1f, 0.2f, 0.2f) { }

    /// <summary>A coder for these priors with explicit variances.</summary>
    /// <param name="priors"><c>(P, 4)</c> priors in <paramref name="priorFormat"/>.</param>
    /// <param name="priorFormat">How the priors are written.</param>
    /// <param name="xVariance">Divides the x centre offset (SSD: 0.1).</param>
    /// <param name="yVariance">Divides the y centre offset (SSD: 0.1).</param>
    /// <param name="widthVariance">Divides the log width ratio (SSD: 0.2).</param>
    /// <param name="heightVariance">Divides the log height ratio (SSD: 0.2).</param>
    /// <param name="expClamp">Upper bound on the decoded log size ratio; default <c>log(1000/16)</c>.</param>
    public SsdBoxCoder(ReadOnlySpan<float> priors, BoxFormat priorFormat, float xVariance, float yVariance, float widthVariance, float heightVariance, float? expClamp = null)
    {
        CenterSizeCodec.CheckWeight(xVariance, nameof(xVariance));
        CenterSizeCodec.CheckWeight(yVariance, nameof(yVariance));
        CenterSizeCodec.CheckWeight(widthVariance, nameof(widthVariance));
        CenterSizeCodec.CheckWeight(heightVariance, nameof(heightVariance));
        ExpClamp = expClamp ?? CenterSizeCodec.DefaultExpClamp;
        CenterSizeCodec.CheckExpClamp(ExpClamp);
        int count = BoxSpan.Count(priors, nameof(priors));
        if (!Enum.IsDefined(priorFormat))
            throw new ArgumentOutOfRangeException(nameof(priorFormat), priorFormat, "Unknown box format.");
        _priors = new float[priors.Length];
        BoxOps.Convert(priors, priorFormat, BoxFormat.CenterSize, _priors);
        for (int i = 0; i < count; i++)
        {
            float cx = _priors[4 * i], cy = _priors[4 * i + 1], w = _priors[4 * i + 2], h = _priors[4 * i + 3];
            if (!(w > 0f) || !(h > 0f) || !float.IsFinite(cx) || !float.IsFinite(cy) || float.IsInfinity(w) || float.IsInfinity(h))
                throw new ArgumentException($"Prior {i} (cx {cx}, cy {cy}, w {w}, h {h}) needs a finite centre and a positive, finite width and height.", nameof(priors));
        }
        XVariance = xVariance; YVariance = yVariance; WidthVariance = widthVariance; HeightVariance = heightVariance;
        _wx = 1f / xVariance; _wy = 1f / yVariance; _ww = 1f / widthVariance; _wh = 1f / heightVariance;
    }

    /// <summary>Number of priors <c>P</c>.</summary>
    public int PriorCount => _priors.Length >> 2;

    /// <summary>Variance of the x centre offset.</summary>
    public float XVariance { get; }
    /// <summary>Variance of the y centre offset.</summary>
    public float YVariance { get; }
    /// <summary>Variance of the log width ratio.</summary>
    public float WidthVariance { get; }
    /// <summary>Variance of the log height ratio.</summary>
    public float HeightVariance { get; }
    /// <summary>Upper bound on the log size ratio before <c>exp</c> when decoding.</summary>
    public float ExpClamp { get; }

    /// <summary>The priors in centre-size layout <c>(P, 4)</c>.</summary>
    public ReadOnlySpan<float> Priors => _priors;

    /// <summary>
    /// Encodes one box per prior: <paramref name="boxes"/> <c>(P, 4)</c> corners (the ground truth matched to
    /// each prior) into <paramref name="codes"/> <c>(P, 4)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A box has no positive width or height.</exception>
    public void Encode(ReadOnlySpan<float> boxes, Span<float> codes)
    {
        BoxSpan.RequireLength(boxes.Length, _priors.Length, nameof(boxes), $"{PriorCount}×4, one box per prior");
        BoxSpan.RequireLength(codes.Length, _priors.Length, nameof(codes), $"{PriorCount}×4, one code per prior");
        CenterSizeCodec.Encode(boxes, _priors, BoxFormat.CenterSize, _wx, _wy, _ww, _wh, codes);
    }

    /// <summary>Encodes <c>(P, 4)</c> boxes into a new <c>(P, 4)</c> array.</summary>
    public float[] Encode(ReadOnlySpan<float> boxes)
    {
        var codes = new float[_priors.Length];
        Encode(boxes, codes);
        return codes;
    }

    /// <summary>Decodes <paramref name="codes"/> <c>(P, 4)</c> into corner boxes <paramref name="boxes"/> <c>(P, 4)</c>.</summary>
    public void Decode(ReadOnlySpan<float> codes, Span<float> boxes)
    {
        BoxSpan.RequireLength(codes.Length, _priors.Length, nameof(codes), $"{PriorCount}×4, one code per prior");
        BoxSpan.RequireLength(boxes.Length, _priors.Length, nameof(boxes), $"{PriorCount}×4, one box per prior");
        CenterSizeCodec.Decode(codes, _priors, BoxFormat.CenterSize, _wx, _wy, _ww, _wh, ExpClamp, boxes);
    }

    /// <summary>Decodes <c>(P, 4)</c> codes into a new <c>(P, 4)</c> array of corner boxes.</summary>
    public float[] Decode(ReadOnlySpan<float> codes)
    {
        var boxes = new float[_priors.Length];
        Decode(codes, boxes);
        return boxes;
    }
}
