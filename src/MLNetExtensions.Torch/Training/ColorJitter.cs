using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Random saturation and hue of an RGB (3, H, W) image in [0, 255], as one 3×3 colour matrix: in YIQ space (Y the
/// luma, with the BT.601 weights torchvision's grayscale uses; I and Q the chroma) the chroma is scaled by the
/// saturation factor and rotated by the hue angle, then mapped back to RGB. Scaling the chroma is torchvision's
/// <c>adjust_saturation</c> (a blend with the grayscale image); rotating it is a hue shift that keeps the luma, and
/// costs one matrix product instead of an HSV round trip.
/// </summary>
internal static class ColorJitter
{
    private static readonly double[,] RgbToYiq = { { 0.299, 0.587, 0.114 }, { 0.596, -0.274, -0.322 }, { 0.211, -0.523, 0.312 } };
    private static readonly double[,] YiqToRgb = Invert(RgbToYiq);

    /// <summary>Saturation × (1 ± <paramref name="saturation"/>), hue rotated by ± <paramref name="hueDegrees"/>; clamped to [0, 255].</summary>
    public static Tensor Apply(Tensor img, float saturation, float hueDegrees, Random rng)
    {
        if (img.shape[0] != 3 || !(saturation > 0 || hueDegrees > 0)) return img;
        double s = 1 + (rng.NextDouble() * 2 - 1) * saturation;
        double angle = (rng.NextDouble() * 2 - 1) * hueDegrees * Math.PI / 180;
        var matrix = Matrix(s, angle);
        var flat = img.reshape(3, -1);                                                            // (3, H·W)
        var m = tensor(matrix, dtype: img.dtype, device: img.device);                             // (3, 3)
        using Scalar black = 0, white = 255;   // held until the op returns (dotnet/TorchSharp#1434)
        return m.matmul(flat).reshape(img.shape).clamp(black, white);
    }

    /// <summary>The RGB → RGB matrix: YIQ⁻¹ · diag(1, s·R(θ)) · YIQ, row-major 3×3.</summary>
    internal static float[,] Matrix(double saturation, double angle)
    {
        double c = Math.Cos(angle) * saturation, sn = Math.Sin(angle) * saturation;
        double[,] chroma = { { 1, 0, 0 }, { 0, c, -sn }, { 0, sn, c } };
        var product = Multiply(YiqToRgb, Multiply(chroma, RgbToYiq));
        var result = new float[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) result[i, j] = (float)product[i, j];
        return result;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++) r[i, j] += a[i, k] * b[k, j];
        return r;
    }

    private static double[,] Invert(double[,] m)
    {
        double det = m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]) - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0]) + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                // Cofactor of (j, i) over the determinant.
                int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
                r[i, j] = (m[r0, c0] * m[r1, c1] - m[r0, c1] * m[r1, c0]) / det;
            }
        return r;
    }
}
