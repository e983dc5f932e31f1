namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Per-image standardization as in <c>tf.image.per_image_standardization</c>: (x − mean) / max(stddev, 1/√N) over all
/// N values of one image (all channels together), with the population standard deviation. The floor on the divisor
/// keeps a uniform image from dividing by zero.
/// </summary>
internal static class Standardization
{
    /// <summary>Mean and the floored standard deviation; accumulated in double so large images stay exact to float.</summary>
    public static (float Mean, float AdjustedStd) Statistics(ReadOnlySpan<float> values)
    {
        if (values.Length == 0)
            return (0, 1);
        double sum = 0;
        foreach (var v in values) sum += v;
        double mean = sum / values.Length;
        double sq = 0;
        foreach (var v in values) { double d = v - mean; sq += d * d; }
        double std = Math.Sqrt(sq / values.Length);
        double floor = 1 / Math.Sqrt(values.Length);
        return ((float)mean, (float)Math.Max(std, floor));
    }

    /// <summary>The standardized values, computed the way the transform's expression does: (x − mean) / adjustedStd in float.</summary>
    public static float[] Apply(ReadOnlySpan<float> values)
    {
        var (mean, std) = Statistics(values);
        var dst = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            dst[i] = (values[i] - mean) / std;
        return dst;
    }
}
