namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Bilinear resampling of interleaved byte images with half-pixel centres (source x = (x + 0.5)·sw/dw − 0.5, clamped
/// to the edge), the convention of OpenCV's INTER_LINEAR and PyTorch's <c>align_corners=False</c>. No antialiasing
/// when shrinking, like those two.
/// </summary>
internal static class BilinearResize
{
    public static byte[] Resize(ReadOnlySpan<byte> src, int srcWidth, int srcHeight, int channels, int dstWidth, int dstHeight)
    {
        if (srcWidth <= 0 || srcHeight <= 0 || dstWidth <= 0 || dstHeight <= 0)
            throw new ArgumentOutOfRangeException(nameof(dstWidth), $"Cannot resize {srcWidth}×{srcHeight} to {dstWidth}×{dstHeight}.");
        if (src.Length != srcWidth * srcHeight * channels)
            throw new ArgumentException($"{src.Length} bytes is not {srcWidth}×{srcHeight}×{channels}.", nameof(src));
        var dst = new byte[dstWidth * dstHeight * channels];
        if (srcWidth == dstWidth && srcHeight == dstHeight)
        {
            src.CopyTo(dst);
            return dst;
        }

        // Horizontal taps are the same for every row: compute them once.
        var x0 = new int[dstWidth];
        var x1 = new int[dstWidth];
        var fx = new float[dstWidth];
        SourceTaps(srcWidth, dstWidth, x0, x1, fx);
        var y0 = new int[dstHeight];
        var y1 = new int[dstHeight];
        var fy = new float[dstHeight];
        SourceTaps(srcHeight, dstHeight, y0, y1, fy);

        for (int y = 0; y < dstHeight; y++)
        {
            int top = y0[y] * srcWidth * channels, bottom = y1[y] * srcWidth * channels;
            float wy = fy[y];
            for (int x = 0; x < dstWidth; x++)
            {
                int l = x0[x] * channels, r = x1[x] * channels;
                float wx = fx[x];
                int o = (y * dstWidth + x) * channels;
                for (int c = 0; c < channels; c++)
                {
                    float t = src[top + l + c] + (src[top + r + c] - src[top + l + c]) * wx;
                    float b = src[bottom + l + c] + (src[bottom + r + c] - src[bottom + l + c]) * wx;
                    float v = t + (b - t) * wy;
                    dst[o + c] = (byte)Math.Clamp(MathF.Round(v), 0, 255);
                }
            }
        }
        return dst;
    }

    /// <summary>For each destination index: the two source indices it blends and the weight of the second.</summary>
    internal static void SourceTaps(int srcSize, int dstSize, int[] i0, int[] i1, float[] weight)
    {
        double scale = (double)srcSize / dstSize;
        for (int d = 0; d < dstSize; d++)
        {
            double s = Math.Max((d + 0.5) * scale - 0.5, 0);
            int lo = Math.Min((int)s, srcSize - 1);
            i0[d] = lo;
            i1[d] = Math.Min(lo + 1, srcSize - 1);
            weight[d] = (float)(s - lo);
        }
    }
}
