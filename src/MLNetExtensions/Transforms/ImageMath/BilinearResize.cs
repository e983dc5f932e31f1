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

        // Separable: each source row is resampled horizontally once (kept while consecutive output rows reuse it),
        // then two such rows are blended vertically.
        int dstRow = dstWidth * channels;
        var upper = new float[dstRow];
        var lower = new float[dstRow];
        int upperIndex = -1, lowerIndex = -1;
        for (int y = 0; y < dstHeight; y++)
        {
            if (y0[y] != upperIndex)
            {
                if (y0[y] == lowerIndex) { (upper, lower) = (lower, upper); (upperIndex, lowerIndex) = (lowerIndex, upperIndex); }
                else { Horizontal(src.Slice(y0[y] * srcWidth * channels, srcWidth * channels), channels, x0, x1, fx, upper); upperIndex = y0[y]; }
            }
            if (y1[y] != lowerIndex)
            {
                Horizontal(src.Slice(y1[y] * srcWidth * channels, srcWidth * channels), channels, x0, x1, fx, lower);
                lowerIndex = y1[y];
            }
            float wy = fy[y];
            var outRow = dst.AsSpan(y * dstRow, dstRow);
            for (int i = 0; i < dstRow; i++)
            {
                float v = upper[i] + (lower[i] - upper[i]) * wy;
                // v is in [0, 255]: adding 0.5 and truncating rounds half up.
                outRow[i] = (byte)(v + 0.5f);
            }
        }
        return dst;
    }

    private static void Horizontal(ReadOnlySpan<byte> row, int channels, int[] x0, int[] x1, float[] fx, float[] result)
    {
        for (int x = 0, o = 0; x < x0.Length; x++)
        {
            int l = x0[x] * channels, r = x1[x] * channels;
            float wx = fx[x];
            for (int c = 0; c < channels; c++, o++)
                result[o] = row[l + c] + (row[r + c] - row[l + c]) * wx;
        }
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
