namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// The 8-bit colour conversions selective search diversifies over, with OpenCV's 8-bit conventions (what
/// <c>cv::cvtColor</c> gives for <c>CV_8U</c> images and what OpenCV's selective search segments and histograms). Input is
/// interleaved RGB, H×W×3; every output is interleaved 8-bit, H×W×channels.
/// </summary>
internal static class ColourSpaces
{
    private const int HsvShift = 12;
    private static readonly int[] SaturationDivisor = BuildSaturationDivisor();
    private static readonly int[] HueDivisor = BuildHueDivisor();

    /// <summary>
    /// HSV as OpenCV's <c>COLOR_RGB2HSV</c> for 8-bit images: V = max(R, G, B); S = 255·(V − min)/V; H in degrees
    /// halved to fit a byte (0–179). Computed with OpenCV's 12-bit fixed-point reciprocal tables and round-half-up
    /// shifts, so the bytes are OpenCV's exactly (a float formula differs by one where 255·(V − min)/V ends in .5).
    /// </summary>
    public static byte[] RgbToHsv(ReadOnlySpan<byte> rgb)
    {
        var hsv = new byte[rgb.Length];
        for (int i = 0; i < rgb.Length; i += 3)
        {
            int r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
            int v = Math.Max(r, Math.Max(g, b));
            int diff = v - Math.Min(r, Math.Min(g, b));
            int s = (diff * SaturationDivisor[v] + (1 << (HsvShift - 1))) >> HsvShift;
            // Hue in units of diff/30 degrees·2, from the channel holding the maximum (red first, then green).
            int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
            h = (h * HueDivisor[diff] + (1 << (HsvShift - 1))) >> HsvShift;
            if (h < 0) h += 180;
            hsv[i] = (byte)h;
            hsv[i + 1] = (byte)s;
            hsv[i + 2] = (byte)v;
        }
        return hsv;
    }

    /// <summary>The hue channel of <see cref="RgbToHsv"/> alone (one channel).</summary>
    public static byte[] Hue(byte[] hsv)
    {
        var hue = new byte[hsv.Length / 3];
        for (int i = 0; i < hue.Length; i++) hue[i] = hsv[3 * i];
        return hue;
    }

    /// <summary>
    /// Gray (the paper's intensity I) as OpenCV's <c>COLOR_RGB2GRAY</c> for 8-bit images: ITU-R BT.601 luma
    /// 0.299 R + 0.587 G + 0.114 B in OpenCV's 14-bit fixed point (4899, 9617, 1868), rounded half up.
    /// </summary>
    public static byte[] RgbToGray(ReadOnlySpan<byte> rgb)
    {
        var gray = new byte[rgb.Length / 3];
        for (int p = 0, i = 0; p < gray.Length; p++, i += 3)
            gray[p] = (byte)((rgb[i] * 4899 + rgb[i + 1] * 9617 + rgb[i + 2] * 1868 + (1 << 13)) >> 14);
        return gray;
    }

    /// <summary>
    /// CIE L*a*b* with OpenCV's 8-bit scaling (L*·255/100, a* + 128, b* + 128, rounded): sRGB (IEC 61966-2-1) companding
    /// undone, linear RGB to XYZ with the sRGB/D65 matrix, XYZ divided by the D65 white (0.950456, 1, 1.088754), then
    /// CIE 1976's f(t) = ∛t above (6/29)³ and t/(3·(6/29)²) + 4/29 below. Plain double arithmetic: OpenCV's own 8-bit
    /// path uses fixed-point tables and can differ from this by one level.
    /// </summary>
    public static byte[] RgbToLab(ReadOnlySpan<byte> rgb)
    {
        Span<double> linear = stackalloc double[256];
        for (int v = 0; v < 256; v++)
        {
            double c = v / 255.0;
            linear[v] = c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }
        var lab = new byte[rgb.Length];
        for (int i = 0; i < rgb.Length; i += 3)
        {
            double r = linear[rgb[i]], g = linear[rgb[i + 1]], b = linear[rgb[i + 2]];
            double x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456;
            double y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
            double z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754;
            double fx = LabF(x), fy = LabF(y), fz = LabF(z);
            double l = 116 * fy - 16;
            lab[i] = ToByte(l * 255 / 100);
            lab[i + 1] = ToByte(500 * (fx - fy) + 128);
            lab[i + 2] = ToByte(200 * (fy - fz) + 128);
        }
        return lab;
    }

    /// <summary>OpenCV's "rgI": its red and green channels and <see cref="RgbToGray"/> as the third (not the paper's
    /// normalised r = R/(R+G+B), g = G/(R+G+B)).</summary>
    public static byte[] RgbToRgI(ReadOnlySpan<byte> rgb)
    {
        byte[] gray = RgbToGray(rgb);
        var rgi = new byte[rgb.Length];
        for (int p = 0, i = 0; p < gray.Length; p++, i += 3)
        {
            rgi[i] = rgb[i];
            rgi[i + 1] = rgb[i + 1];
            rgi[i + 2] = gray[p];
        }
        return rgi;
    }

    private static double LabF(double t)
    {
        const double delta = 6.0 / 29.0;
        return t > delta * delta * delta ? Math.Cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0;
    }

    private static byte ToByte(double v) => (byte)Math.Clamp(Math.Round(v, MidpointRounding.AwayFromZero), 0, 255);

    // OpenCV's sdiv_table: round((255 << 12) / v).
    private static int[] BuildSaturationDivisor()
    {
        var t = new int[256];
        for (int v = 1; v < 256; v++) t[v] = (int)Math.Round((255 << HsvShift) / (double)v, MidpointRounding.ToEven);
        return t;
    }

    // OpenCV's hdiv_table180: round((180 << 12) / (6·diff)).
    private static int[] BuildHueDivisor()
    {
        var t = new int[256];
        for (int d = 1; d < 256; d++) t[d] = (int)Math.Round((180 << HsvShift) / (6.0 * d), MidpointRounding.ToEven);
        return t;
    }
}
