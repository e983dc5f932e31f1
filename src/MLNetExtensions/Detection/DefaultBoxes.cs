namespace MLNetExtensions.Detection;

/// <summary>
/// SSD default boxes (priors) for a set of feature maps, as in Liu et al. 2016 and torchvision's DefaultBoxGenerator.
/// One implementation for training (targets) and scoring (decoding in the ONNX graph), so the two never disagree.
/// </summary>
/// <remarks>
/// Per feature map k the boxes are, at each location (row-major), in this order: (s_k, s_k), (s'_k, s'_k) with
/// s'_k = sqrt(s_k s_{k+1}), then for each aspect ratio r: (s_k sqrt r, s_k / sqrt r) and (s_k / sqrt r, s_k sqrt r).
/// Scales are evenly spaced from <see cref="MinScale"/> to <see cref="MaxScale"/>, with 1.0 after the last map.
/// A head's output (N, A*4, H, W) permuted to (N, H, W, A*4) and reshaped to (N, H*W*A, 4) lines up with this order.
/// </remarks>
public sealed class DefaultBoxes
{
    /// <param name="featureMapSizes">(height, width) of each feature map, largest first.</param>
    /// <param name="aspectRatios">Extra aspect ratios per map (each r adds r and 1/r), e.g. [[2], [2,3], ...].</param>
    /// <param name="minScale">Scale of the first map, as a fraction of the image side.</param>
    /// <param name="maxScale">Scale of the last map.</param>
    /// <param name="clip">Clamp widths and heights to [0, 1].</param>
    public DefaultBoxes(IReadOnlyList<(int Height, int Width)> featureMapSizes, IReadOnlyList<IReadOnlyList<float>> aspectRatios,
        float minScale = 0.15f, float maxScale = 0.9f, bool clip = true)
    {
        ArgumentNullException.ThrowIfNull(featureMapSizes);
        ArgumentNullException.ThrowIfNull(aspectRatios);
        if (featureMapSizes.Count == 0) throw new ArgumentException("At least one feature map is needed.", nameof(featureMapSizes));
        if (aspectRatios.Count != featureMapSizes.Count)
            throw new ArgumentException($"{aspectRatios.Count} aspect-ratio lists for {featureMapSizes.Count} feature maps; give one list per map.", nameof(aspectRatios));
        if (!(minScale > 0 && maxScale >= minScale && maxScale <= 1))
            throw new ArgumentOutOfRangeException(nameof(minScale), $"Scales must satisfy 0 < minScale ({minScale}) <= maxScale ({maxScale}) <= 1.");
        foreach (var ars in aspectRatios)
            foreach (var r in ars)
                if (!(r > 0)) throw new ArgumentOutOfRangeException(nameof(aspectRatios), $"Aspect ratio {r} must be positive.");

        FeatureMapSizes = featureMapSizes.ToArray();
        AspectRatios = aspectRatios.Select(a => (IReadOnlyList<float>)a.ToArray()).ToArray();
        MinScale = minScale;
        MaxScale = maxScale;
        int m = featureMapSizes.Count;
        var scales = new float[m + 1];
        for (int k = 0; k < m; k++)
            scales[k] = m == 1 ? minScale : minScale + (maxScale - minScale) * k / (m - 1);
        scales[m] = 1f;

        var boxes = new List<float>();
        BoxesPerLocation = new int[m];
        for (int k = 0; k < m; k++)
        {
            var wh = new List<(float W, float H)>();
            float s = scales[k], sPrime = MathF.Sqrt(scales[k] * scales[k + 1]);
            wh.Add((s, s));
            wh.Add((sPrime, sPrime));
            foreach (var r in AspectRatios[k])
            {
                float q = MathF.Sqrt(r);
                wh.Add((s * q, s / q));
                wh.Add((s / q, s * q));
            }
            BoxesPerLocation[k] = wh.Count;
            var (fh, fw) = FeatureMapSizes[k];
            for (int i = 0; i < fh; i++)
                for (int j = 0; j < fw; j++)
                    foreach (var (w, h) in wh)
                    {
                        boxes.Add((j + 0.5f) / fw);
                        boxes.Add((i + 0.5f) / fh);
                        boxes.Add(clip ? Math.Clamp(w, 0f, 1f) : w);
                        boxes.Add(clip ? Math.Clamp(h, 0f, 1f) : h);
                    }
        }
        CenterSize = boxes.ToArray();
    }

    public IReadOnlyList<(int Height, int Width)> FeatureMapSizes { get; }
    public IReadOnlyList<IReadOnlyList<float>> AspectRatios { get; }
    public float MinScale { get; }
    public float MaxScale { get; }

    /// <summary>Boxes per location of each feature map (2 + 2 × aspect ratios): the head's anchor count.</summary>
    public int[] BoxesPerLocation { get; }

    /// <summary>All default boxes, (A, 4) row-major as (cx, cy, w, h) relative to the image (0..1).</summary>
    public float[] CenterSize { get; }

    /// <summary>Number of default boxes A.</summary>
    public int Count => CenterSize.Length / 4;

    /// <summary>All default boxes as corners (xmin, ymin, xmax, ymax) in pixels of an image of the given size, (A, 4).</summary>
    public float[] ToCorners(float imageWidth, float imageHeight)
    {
        var r = new float[CenterSize.Length];
        for (int a = 0; a < Count; a++)
        {
            float cx = CenterSize[4 * a], cy = CenterSize[4 * a + 1], w = CenterSize[4 * a + 2], h = CenterSize[4 * a + 3];
            r[4 * a] = (cx - w / 2) * imageWidth;
            r[4 * a + 1] = (cy - h / 2) * imageHeight;
            r[4 * a + 2] = (cx + w / 2) * imageWidth;
            r[4 * a + 3] = (cy + h / 2) * imageHeight;
        }
        return r;
    }
}
