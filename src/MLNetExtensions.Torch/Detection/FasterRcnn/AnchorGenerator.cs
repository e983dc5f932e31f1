namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// The anchors of one feature map, as torchvision's <c>AnchorGenerator</c> makes them: per location, one anchor per
/// (aspect ratio, size) pair, ratio-major (<c>h/w = ratio</c>, area = size²), each rounded to whole pixels and centred
/// at the location's top-left input pixel <c>(x·stride, y·stride)</c>; locations row-major, anchors minor, so anchor
/// <c>(y·W + x)·A + a</c> is what the RPN head's outputs at (y, x) channel a predict.
/// </summary>
public sealed class AnchorGenerator
{
    /// <summary>Anchors of the given sizes (square root of the area, in input pixels) and aspect ratios (height / width).</summary>
    public AnchorGenerator(IReadOnlyList<float> sizes, IReadOnlyList<float> aspectRatios)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(aspectRatios);
        if (sizes.Count == 0 || sizes.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException($"Anchor sizes must be positive and finite, at least one; got [{string.Join(", ", sizes)}].", nameof(sizes));
        if (aspectRatios.Count == 0 || aspectRatios.Any(r => !(r > 0) || !float.IsFinite(r)))
            throw new ArgumentException($"Anchor aspect ratios must be positive and finite, at least one; got [{string.Join(", ", aspectRatios)}].", nameof(aspectRatios));
        Sizes = sizes.ToArray();
        AspectRatios = aspectRatios.ToArray();
    }

    public IReadOnlyList<float> Sizes { get; }
    public IReadOnlyList<float> AspectRatios { get; }

    /// <summary>Anchors per feature-map location (A).</summary>
    public int AnchorsPerLocation => Sizes.Count * AspectRatios.Count;

    /// <summary>The A zero-centred base anchors (A × 4 corners), torchvision's <c>generate_anchors</c>.</summary>
    public float[] BaseAnchors()
    {
        var result = new float[AnchorsPerLocation * 4];
        int a = 0;
        foreach (var ratio in AspectRatios)
        {
            // float32 as torchvision: h_ratios = sqrt(r), w_ratios = 1 / h_ratios, ws = w_ratios · size.
            float hRatio = MathF.Sqrt(ratio), wRatio = 1f / hRatio;
            foreach (var size in Sizes)
            {
                float w = wRatio * size, h = hRatio * size;
                result[4 * a] = MathF.Round(-w / 2, MidpointRounding.ToEven);
                result[4 * a + 1] = MathF.Round(-h / 2, MidpointRounding.ToEven);
                result[4 * a + 2] = MathF.Round(w / 2, MidpointRounding.ToEven);
                result[4 * a + 3] = MathF.Round(h / 2, MidpointRounding.ToEven);
                a++;
            }
        }
        return result;
    }

    /// <summary>All anchors of a <paramref name="height"/> × <paramref name="width"/> map with the given strides:
    /// (H·W·A) × 4 corners in input pixels.</summary>
    public float[] Generate(int height, int width, int strideY, int strideX)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideY, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(strideX, 1);
        var base_ = BaseAnchors();
        int a = AnchorsPerLocation;
        var result = new float[height * width * a * 4];
        int i = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int k = 0; k < a; k++)
                {
                    float sx = x * strideX, sy = y * strideY;
                    result[i++] = sx + base_[4 * k];
                    result[i++] = sy + base_[4 * k + 1];
                    result[i++] = sx + base_[4 * k + 2];
                    result[i++] = sy + base_[4 * k + 3];
                }
        return result;
    }
}
