namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Per-pixel histogram bins of one colour image, computed once and shared by every segmentation of it: a colour bin per
/// channel (25 bins over 0–255, as OpenCV's <c>calcHist</c> with range [0, 256)) and a texture bin per channel and
/// orientation (10 bins).
/// </summary>
/// <remarks>
/// Texture follows the paper: Gaussian derivatives with σ = 1 (scipy-style 'reflect' borders, kernel radius 4) in x and
/// y, steered to 0°, 45°, 90° and 135°; each direction's positive and negative parts are the 8 orientations. Each of
/// the 8 maps per channel is binned over [0, its largest value in the image] (OpenCV rescales each map to 0–255 by its
/// min and max, with Scharr derivatives of a rotated image instead of steered Gaussian derivatives).
/// </remarks>
internal sealed class RegionFeatures
{
    public const int ColourBins = 25;
    public const int TextureBins = 10;
    public const int Orientations = 8;

    private RegionFeatures(int channels, byte[] colour, byte[] texture)
    {
        Channels = channels;
        Colour = colour;
        Texture = texture;
    }

    public int Channels { get; }

    /// <summary>Colour bin of pixel p, channel c at <c>p·Channels + c</c>.</summary>
    public byte[] Colour { get; }

    /// <summary>Texture bin of pixel p, channel c, orientation o at <c>(p·Channels + c)·8 + o</c>.</summary>
    public byte[] Texture { get; }

    public int ColourLength => Channels * ColourBins;
    public int TextureLength => Channels * Orientations * TextureBins;

    public static RegionFeatures Compute(byte[] image, int height, int width, int channels)
    {
        var colour = new byte[image.Length];
        for (int i = 0; i < image.Length; i++) colour[i] = (byte)(image[i] * ColourBins / 256);

        int pixels = height * width;
        var texture = new byte[image.Length * Orientations];
        var plane = new float[pixels];
        var responses = new float[Orientations][];
        for (int o = 0; o < Orientations; o++) responses[o] = new float[pixels];
        for (int c = 0; c < channels; c++)
        {
            for (int p = 0; p < pixels; p++) plane[p] = image[p * channels + c];
            float[] dx = GaussianDerivative(plane, height, width, alongX: true);
            float[] dy = GaussianDerivative(plane, height, width, alongX: false);
            const float diagonal = 0.70710678f;
            for (int p = 0; p < pixels; p++)
            {
                float d0 = dx[p], d90 = dy[p];
                float d45 = (d0 + d90) * diagonal, d135 = (d90 - d0) * diagonal;
                responses[0][p] = Math.Max(d0, 0); responses[1][p] = Math.Max(-d0, 0);
                responses[2][p] = Math.Max(d45, 0); responses[3][p] = Math.Max(-d45, 0);
                responses[4][p] = Math.Max(d90, 0); responses[5][p] = Math.Max(-d90, 0);
                responses[6][p] = Math.Max(d135, 0); responses[7][p] = Math.Max(-d135, 0);
            }
            for (int o = 0; o < Orientations; o++)
            {
                float[] map = responses[o];
                float max = 0;
                for (int p = 0; p < pixels; p++) max = Math.Max(max, map[p]);
                float scale = max > 0 ? TextureBins / max : 0;
                for (int p = 0; p < pixels; p++)
                    texture[(p * channels + c) * Orientations + o] = (byte)Math.Min(TextureBins - 1, (int)(map[p] * scale));
            }
        }
        return new RegionFeatures(channels, colour, texture);
    }

    /// <summary>∂/∂x (or ∂/∂y) of the image smoothed by a Gaussian of σ = 1: the derivative kernel along one axis, the
    /// smoothing kernel along the other, both of radius 4 with 'reflect' borders.</summary>
    private static float[] GaussianDerivative(float[] plane, int height, int width, bool alongX)
    {
        var taps = new float[Radius + 1];
        double sum = 0;
        for (int i = -Radius; i <= Radius; i++) sum += Math.Exp(-0.5 * i * i);
        for (int i = 0; i <= Radius; i++) taps[i] = (float)(Math.Exp(-0.5 * i * i) / sum);
        var rows = new float[plane.Length];
        // Along x (within each row) first, then along y (within each column).
        Correlate(plane, rows, height, width, taps, derivative: alongX, horizontal: true);
        var result = new float[plane.Length];
        Correlate(rows, result, height, width, taps, derivative: !alongX, horizontal: false);
        return result;
    }

    private const int Radius = 4;

    /// <summary>
    /// One separable pass, summed in symmetric pairs so that a flat neighbourhood gives exactly 0 (a derivative) or its
    /// value (smoothing): smoothing g₀·I(x) + Σ_j g_j·(I(x + j) + I(x − j)); derivative of the Gaussian,
    /// (I ∗ G′)(x) = Σ_j j·g_j·(I(x + j) − I(x − j)) for σ = 1.
    /// </summary>
    private static void Correlate(float[] input, float[] output, int height, int width, float[] taps, bool derivative,
        bool horizontal)
    {
        int lines = horizontal ? height : width, length = horizontal ? width : height;
        int step = horizontal ? 1 : width;
        for (int line = 0; line < lines; line++)
        {
            int start = horizontal ? line * width : line;
            for (int i = 0; i < length; i++)
            {
                float value = derivative ? 0 : taps[0] * input[start + i * step];
                for (int j = 1; j <= Radius; j++)
                {
                    float after = input[start + FelzenszwalbSegmentation.Reflect(i + j, length) * step];
                    float before = input[start + FelzenszwalbSegmentation.Reflect(i - j, length) * step];
                    value += derivative ? j * taps[j] * (after - before) : taps[j] * (after + before);
                }
                output[start + i * step] = value;
            }
        }
    }
}
