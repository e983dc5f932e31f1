namespace MLNetExtensions.Boxes;

/// <summary>
/// The centre-size box encoding that SSD and Faster R-CNN share:
/// <c>dx = wx·(gx − ax)/aw, dy = wy·(gy − ay)/ah, dw = ww·log(gw/aw), dh = wh·log(gh/ah)</c>
/// for a box <c>g</c> relative to an anchor (prior) <c>a</c>, both as centre and size. SSD's variances are the
/// reciprocal weights.
/// </summary>
internal static class CenterSizeCodec
{
    /// <summary>
    /// Upper bound on <c>dw</c> and <c>dh</c> before <c>exp</c> when decoding (torchvision's <c>log(1000 / 16)</c>):
    /// a box never grows more than 62.5 times its anchor, so a wild regression cannot overflow to infinity.
    /// </summary>
    public static readonly float DefaultExpClamp = (float)Math.Log(1000.0 / 16.0);

    public static void Encode(ReadOnlySpan<float> boxes, ReadOnlySpan<float> anchors, BoxFormat anchorFormat,
        float wx, float wy, float ww, float wh, Span<float> codes)
    {
        for (int o = 0; o < boxes.Length; o += 4)
        {
            Anchor(anchors, o, anchorFormat, out float acx, out float acy, out float aw, out float ah);
            float gw = boxes[o + 2] - boxes[o];
            float gh = boxes[o + 3] - boxes[o + 1];
            float gcx = boxes[o] + 0.5f * gw;
            float gcy = boxes[o + 1] + 0.5f * gh;
            float dx = wx * (gcx - acx) / aw;
            float dy = wy * (gcy - acy) / ah;
            float dw = ww * MathF.Log(gw / aw);
            float dh = wh * MathF.Log(gh / ah);
            if (!float.IsFinite(dx) || !float.IsFinite(dy) || !float.IsFinite(dw) || !float.IsFinite(dh))
                throw new ArgumentException(
                    $"Box {o / 4} [{boxes[o]}, {boxes[o + 1]}, {boxes[o + 2]}, {boxes[o + 3]}] cannot be encoded against its anchor " +
                    $"(cx {acx}, cy {acy}, w {aw}, h {ah}): both need a positive, finite width and height. Remove empty boxes first (BoxOps.RemoveEmpty).",
                    "boxes");
            codes[o] = dx;
            codes[o + 1] = dy;
            codes[o + 2] = dw;
            codes[o + 3] = dh;
        }
    }

    /// <summary>
    /// Decodes <c>(N, 4K)</c> codes against <c>(N, 4)</c> anchors into <c>(N, 4K)</c> corner boxes: K boxes per
    /// anchor (one per class in Faster R-CNN's box head, K = 1 elsewhere).
    /// </summary>
    public static void Decode(ReadOnlySpan<float> codes, ReadOnlySpan<float> anchors, BoxFormat anchorFormat,
        float wx, float wy, float ww, float wh, float expClamp, Span<float> boxes)
    {
        int n = anchors.Length >> 2;
        if (n == 0) return;
        int perAnchor = codes.Length / n;
        for (int i = 0; i < n; i++)
        {
            Anchor(anchors, 4 * i, anchorFormat, out float acx, out float acy, out float aw, out float ah);
            int end = (i + 1) * perAnchor;
            for (int o = i * perAnchor; o < end; o += 4)
            {
                float dx = codes[o] / wx;
                float dy = codes[o + 1] / wy;
                float dw = MathF.Min(codes[o + 2] / ww, expClamp);
                float dh = MathF.Min(codes[o + 3] / wh, expClamp);
                float cx = dx * aw + acx;
                float cy = dy * ah + acy;
                float halfW = 0.5f * (MathF.Exp(dw) * aw);
                float halfH = 0.5f * (MathF.Exp(dh) * ah);
                boxes[o] = cx - halfW;
                boxes[o + 1] = cy - halfH;
                boxes[o + 2] = cx + halfW;
                boxes[o + 3] = cy + halfH;
            }
        }
    }

    private static void Anchor(ReadOnlySpan<float> anchors, int o, BoxFormat format, out float cx, out float cy, out float w, out float h)
    {
        if (format == BoxFormat.CenterSize)
        {
            cx = anchors[o]; cy = anchors[o + 1]; w = anchors[o + 2]; h = anchors[o + 3];
        }
        else
        {
            w = anchors[o + 2] - anchors[o];
            h = anchors[o + 3] - anchors[o + 1];
            cx = anchors[o] + 0.5f * w;
            cy = anchors[o + 1] + 0.5f * h;
        }
    }

    public static void CheckWeight(float value, string name)
    {
        if (!(value > 0f) || float.IsInfinity(value))
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be a positive finite number.");
    }

    public static void CheckExpClamp(float value)
    {
        if (float.IsNaN(value))
            throw new ArgumentOutOfRangeException("expClamp", value, "The exp clamp must be a number (use float.PositiveInfinity for none).");
    }
}
