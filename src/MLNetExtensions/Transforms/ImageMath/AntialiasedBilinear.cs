using System.Buffers;

namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Bilinear resampling with antialiasing (a triangle filter whose support widens with the shrink factor): PIL's
/// <c>Image.resize(..., BILINEAR)</c>, torchvision's <c>resize(..., antialias=True)</c> and PyTorch's
/// <c>F.interpolate(mode="bilinear", antialias=True, align_corners=False)</c>, checked against the latter in
/// <c>AntialiasedBilinearTests</c>. When enlarging it is plain bilinear with half-pixel centres; when shrinking every
/// source pixel contributes (an area-like average), so thin lines and small objects survive the resize instead of
/// aliasing away as with nearest-neighbour.
/// </summary>
/// <remarks>
/// What is resampled is a <i>window</i> of the image: any integer rectangle in the image's pixel coordinates, also one
/// that reaches beyond the image, where the pixels have a fill colour. The result is that of cutting the window out
/// (padding with the fill where it leaves the image) and resizing it, in one pass: a crop, a zoom-out (SSD's expand, the
/// image on a larger canvas) and the resize without making the intermediate images. Filter taps are clamped to the
/// window and their weights renormalised, as PIL and PyTorch do at the edges.
/// </remarks>
internal static class AntialiasedBilinear
{
    /// <summary>One axis's filter: for each output index its first source index, its tap count and, at
    /// <c>i × Stride</c>, its normalised weights.</summary>
    private readonly record struct AxisTaps(int[] First, int[] Count, float[] Weights, int Stride);

    /// <summary>
    /// Resamples the window (<paramref name="x"/>, <paramref name="y"/>, <paramref name="width"/> × <paramref name="height"/>,
    /// in <paramref name="src"/>'s pixel coordinates; outside the image it has the colour <paramref name="fill"/>) of the planar
    /// (C, H, W) image <paramref name="src"/> to <paramref name="outWidth"/> × <paramref name="outHeight"/> planar (C, H, W)
    /// floats in <paramref name="dst"/>.
    /// </summary>
    public static void Resample(ReadOnlySpan<byte> src, int srcWidth, int srcHeight, int channels, ReadOnlySpan<byte> fill,
        int x, int y, int width, int height, int outWidth, int outHeight, Span<float> dst)
    {
        if (srcWidth <= 0 || srcHeight <= 0 || outWidth <= 0 || outHeight <= 0 || width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(outWidth), $"Cannot resample a {width}×{height} window of a {srcWidth}×{srcHeight} image to {outWidth}×{outHeight}.");
        if (src.Length < srcWidth * srcHeight * channels) throw new ArgumentException($"{src.Length} bytes is less than {srcWidth}×{srcHeight}×{channels}.", nameof(src));
        if (fill.Length < channels) throw new ArgumentException($"The fill colour has {fill.Length} of {channels} channels.", nameof(fill));
        if (dst.Length < channels * outWidth * outHeight) throw new ArgumentException($"{dst.Length} outputs is less than {channels}×{outHeight}×{outWidth}.", nameof(dst));

        var xt = Taps(x, width, outWidth);
        var yt = Taps(y, height, outHeight);

        // Per channel: a horizontal pass over the image rows the vertical taps read ((rows, outW) floats), then the vertical
        // pass; taps outside the image read the fill colour.
        int rowLo = Math.Max(0, yt.First[0]), rowHi = Math.Min(srcHeight, yt.First[outHeight - 1] + yt.Count[outHeight - 1]);
        var rows = ArrayPool<float>.Shared.Rent(Math.Max(1, rowHi - rowLo) * outWidth);
        try
        {
            int plane = outWidth * outHeight, srcPlane = srcWidth * srcHeight;
            for (int c = 0; c < channels; c++)
            {
                var source = src.Slice(c * srcPlane, srcPlane);
                float f = fill[c];
                for (int sy = rowLo; sy < rowHi; sy++)
                    Horizontal(source.Slice(sy * srcWidth, srcWidth), f, xt, rows.AsSpan((sy - rowLo) * outWidth, outWidth));
                var output = dst.Slice(c * plane, plane);
                for (int oy = 0; oy < outHeight; oy++)
                {
                    int first = yt.First[oy], count = yt.Count[oy];
                    var weights = yt.Weights.AsSpan(oy * yt.Stride, count);
                    var line = output.Slice(oy * outWidth, outWidth);
                    float fillWeight = 0;
                    line.Clear();
                    for (int k = 0; k < count; k++)
                    {
                        int sy = first + k;
                        if (sy < 0 || sy >= srcHeight) { fillWeight += weights[k]; continue; }
                        float wk = weights[k];
                        var row = rows.AsSpan((sy - rowLo) * outWidth, outWidth);
                        for (int ox = 0; ox < outWidth; ox++) line[ox] += wk * row[ox];
                    }
                    if (fillWeight > 0)
                        for (int ox = 0; ox < outWidth; ox++) line[ox] += fillWeight * f;
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(rows); }
    }

    /// <summary><see cref="Resample"/> of the whole image to <paramref name="outWidth"/> × <paramref name="outHeight"/>,
    /// rounded to planar (C, H, W) bytes (as PIL and torchvision give for 8-bit images).</summary>
    public static byte[] ResizeToBytes(ReadOnlySpan<byte> src, int srcWidth, int srcHeight, int channels, int outWidth, int outHeight)
    {
        if (srcWidth == outWidth && srcHeight == outHeight) return src[..(channels * outWidth * outHeight)].ToArray();   // the filter's identity
        var values = ArrayPool<float>.Shared.Rent(channels * outWidth * outHeight);
        try
        {
            Resample(src, srcWidth, srcHeight, channels, stackalloc byte[channels], 0, 0, srcWidth, srcHeight, outWidth, outHeight, values);
            var bytes = new byte[channels * outWidth * outHeight];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = ToByte(values[i]);
            return bytes;
        }
        finally { ArrayPool<float>.Shared.Return(values); }
    }

    /// <summary>A resampled value rounded to the nearest byte (half up), clamped to [0, 255].</summary>
    public static byte ToByte(float value) => (byte)Math.Clamp((int)(value + 0.5f), 0, 255);

    private static void Horizontal(ReadOnlySpan<byte> row, float fill, AxisTaps xt, Span<float> result)
    {
        for (int ox = 0; ox < result.Length; ox++)
        {
            int first = xt.First[ox], count = xt.Count[ox];
            var weights = xt.Weights.AsSpan(ox * xt.Stride, count);
            float sum = 0;
            if (first >= 0 && first + count <= row.Length)
                for (int k = 0; k < count; k++) sum += weights[k] * row[first + k];
            else
                for (int k = 0; k < count; k++)
                {
                    int sx = first + k;
                    sum += weights[k] * (sx >= 0 && sx < row.Length ? row[sx] : fill);
                }
            result[ox] = sum;
        }
    }

    /// <summary>The filter of one axis: output index i samples the window [start, start + length) at centre
    /// start + (i + ½)·scale with a triangle of half-width max(scale, 1), its taps clamped to the window.</summary>
    private static AxisTaps Taps(int start, int length, int outSize)
    {
        int lo = start, hi = start + length;
        double scale = (double)length / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterScale;   // the triangle's support is 1 source pixel, widened by the shrink factor
        int stride = (int)Math.Ceiling(support) * 2 + 2;
        var first = new int[outSize];
        var count = new int[outSize];
        var weights = new float[outSize * stride];
        for (int i = 0; i < outSize; i++)
        {
            double centre = start + (i + 0.5) * scale;
            int a = Math.Max(lo, (int)Math.Floor(centre - support + 0.5));
            int b = Math.Min(hi, (int)Math.Floor(centre + support + 0.5));
            if (b <= a) { a = Math.Clamp((int)Math.Floor(centre), lo, hi - 1); b = a + 1; }   // a window beyond the canvas: its nearest pixel
            int n = Math.Min(b - a, stride);
            double total = 0;
            for (int k = 0; k < n; k++)
            {
                double w = Math.Max(0.0, 1.0 - Math.Abs((a + k - centre + 0.5) / filterScale));
                weights[i * stride + k] = (float)w;
                total += w;
            }
            if (total <= 0) { weights[i * stride] = 1; total = 1; n = Math.Max(n, 1); }
            for (int k = 0; k < n; k++) weights[i * stride + k] = (float)(weights[i * stride + k] / total);
            first[i] = a;
            count[i] = n;
        }
        return new AxisTaps(first, count, weights, stride);
    }
}
