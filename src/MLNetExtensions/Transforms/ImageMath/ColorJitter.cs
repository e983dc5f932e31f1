namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// Brightness and contrast on 4-byte pixels, as torchvision's <c>adjust_brightness</c>/<c>adjust_contrast</c>:
/// brightness multiplies, contrast blends with the mean grey level (0.299 R + 0.587 G + 0.114 B) of the image.
/// Alpha is left alone; results are rounded and clamped to [0, 255].
/// </summary>
internal static class ColorJitter
{
    public static void AdjustBrightness(Span<byte> pixels, float factor)
    {
        Span<byte> table = stackalloc byte[256];
        for (int v = 0; v < 256; v++) table[v] = ToByte(v * factor);
        ApplyToColour(pixels, table);
    }

    /// <param name="redFirst">True for RGBA pixels, false for BGRA.</param>
    public static void AdjustContrast(Span<byte> pixels, float factor, bool redFirst)
    {
        if (pixels.Length == 0) return;
        float mean = MeanGrey(pixels, redFirst);
        Span<byte> table = stackalloc byte[256];
        for (int v = 0; v < 256; v++) table[v] = ToByte(mean + factor * (v - mean));
        ApplyToColour(pixels, table);
    }

    /// <summary>Maps the three colour bytes of every pixel through a 256-entry table (the adjustments are per value).</summary>
    private static void ApplyToColour(Span<byte> pixels, ReadOnlySpan<byte> table)
    {
        for (int i = 0; i < pixels.Length; i += 4)
        {
            pixels[i] = table[pixels[i]];
            pixels[i + 1] = table[pixels[i + 1]];
            pixels[i + 2] = table[pixels[i + 2]];
        }
    }

    public static float MeanGrey(ReadOnlySpan<byte> pixels, bool redFirst)
    {
        int r = redFirst ? 0 : 2, b = redFirst ? 2 : 0;
        double sum = 0;
        for (int i = 0; i < pixels.Length; i += 4)
            sum += 0.299 * pixels[i + r] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + b];
        return (float)(sum / (pixels.Length / 4));
    }

    private static byte ToByte(float v) => (byte)Math.Clamp(MathF.Round(v), 0, 255);
}
