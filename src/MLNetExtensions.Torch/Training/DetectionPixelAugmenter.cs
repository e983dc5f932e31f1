using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// <see cref="DetectionAugmentation"/> of one image on the CPU in plain C#, from its (C, H, W) bytes into float pixels in
/// [0, 255]: random crop (resampled bilinearly back to the input size, as <c>F.interpolate(..., align_corners: false)</c>),
/// horizontal flip, then brightness and contrast. No libtorch call, so data workers do not queue on libtorch's thread
/// pool behind the training step. The boxes follow the pixels.
/// </summary>
internal static class DetectionPixelAugmenter
{
    /// <summary>Writes image <paramref name="pixels"/> (C, H, W bytes at <paramref name="input"/>'s size) into
    /// <paramref name="output"/> (C × H × W floats), augmented with <paramref name="rng"/> when <paramref name="a"/> is
    /// given, and returns its target moved with the pixels.</summary>
    public static DetectionTarget Apply(ReadOnlySpan<byte> pixels, NetworkInput input, DetectionTarget t, DetectionAugmentation? a, Random rng, Span<float> output)
    {
        int c = input.Channels, h = input.Height, w = input.Width;
        output = output[..(c * h * w)];
        bool cropped = false;
        if (a != null && a.RandomCrop && rng.NextDouble() < 0.5)
        {
            for (int attempt = 0; attempt < 10; attempt++)
            {
                float cw = a.MinCropScale + (float)rng.NextDouble() * (1 - a.MinCropScale);
                float ch = a.MinCropScale + (float)rng.NextDouble() * (1 - a.MinCropScale);
                float x0 = (float)rng.NextDouble() * (1 - cw), y0 = (float)rng.NextDouble() * (1 - ch);
                var kept = DetectionTrainingSet.CropTargets(t, x0, y0, cw, ch);
                if (t.Count > 0 && kept.Count == 0) continue;    // keep at least one object in a crop of an image that had some
                int px0 = (int)(x0 * w), py0 = (int)(y0 * h), pw = Math.Max(1, (int)(cw * w)), ph = Math.Max(1, (int)(ch * h));
                ResizeWindow(pixels, c, h, w, px0, py0, pw, ph, output);
                t = kept;
                cropped = true;
                break;
            }
        }
        if (!cropped)
            for (int k = 0; k < output.Length; k++) output[k] = pixels[k];
        if (a == null) return t;

        if (a.HorizontalFlip && rng.NextDouble() < 0.5)
        {
            for (int row = 0; row < c * h; row++) output.Slice(row * w, w).Reverse();
            var b = (float[])t.Boxes.Clone();
            for (int i = 0; i < t.Count; i++)
            {
                b[4 * i] = 1 - t.Boxes[4 * i + 2];
                b[4 * i + 2] = 1 - t.Boxes[4 * i];
            }
            t = t with { Boxes = b };
        }
        if (a.Brightness > 0 || a.Contrast > 0)
        {
            float contrast = 1 + (float)(rng.NextDouble() * 2 - 1) * a.Contrast;
            float brightness = (float)(rng.NextDouble() * 2 - 1) * a.Brightness;
            double sum = 0;
            foreach (float v in output) sum += v;
            float mean = (float)(sum / output.Length);
            for (int k = 0; k < output.Length; k++) output[k] = Math.Clamp((output[k] - mean) * contrast + mean + brightness, 0f, 255f);
        }
        return t;
    }

    /// <summary>The window (<paramref name="x0"/>, <paramref name="y0"/>, <paramref name="ww"/> × <paramref name="wh"/>) of
    /// each channel resampled bilinearly to the full <paramref name="w"/> × <paramref name="h"/> (half-pixel centres, as
    /// PyTorch's bilinear interpolation without aligned corners).</summary>
    private static void ResizeWindow(ReadOnlySpan<byte> src, int c, int h, int w, int x0, int y0, int ww, int wh, Span<float> dst)
    {
        var xLow = new int[w];
        var xHigh = new int[w];
        var xLambda = new float[w];
        float sx = (float)ww / w, sy = (float)wh / h;
        for (int x = 0; x < w; x++) (xLow[x], xHigh[x], xLambda[x]) = Source(x, sx, ww);
        for (int y = 0; y < h; y++)
        {
            var (ylo, yhi, ly) = Source(y, sy, wh);
            for (int ch = 0; ch < c; ch++)
            {
                var top = src.Slice(ch * h * w + (y0 + ylo) * w + x0);
                var bottom = src.Slice(ch * h * w + (y0 + yhi) * w + x0);
                var row = dst.Slice(ch * h * w + y * w, w);
                for (int x = 0; x < w; x++)
                {
                    float lx = xLambda[x];
                    float upper = (1 - lx) * top[xLow[x]] + lx * top[xHigh[x]];
                    float lower = (1 - lx) * bottom[xLow[x]] + lx * bottom[xHigh[x]];
                    row[x] = (1 - ly) * upper + ly * lower;
                }
            }
        }
    }

    /// <summary>The two source indices and the weight of the second for output index <paramref name="i"/>.</summary>
    private static (int Low, int High, float Lambda) Source(int i, float scale, int size)
    {
        float s = Math.Max(0f, scale * (i + 0.5f) - 0.5f);
        int low = Math.Min((int)s, size - 1);
        int high = low + (low < size - 1 ? 1 : 0);
        return (low, high, s - low);
    }
}
