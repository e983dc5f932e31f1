using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>Random contrast and brightness of a (C, H, W) image in [0, 255]; shared by the detection and segmentation batches.</summary>
internal static class PhotometricJitter
{
    /// <summary>Contrast scaled by 1 ± <paramref name="contrast"/> about the image mean, then ± <paramref name="brightness"/> added, clamped to [0, 255].</summary>
    public static Tensor Apply(Tensor img, float brightness, float contrast, Random rng)
    {
        if (!(brightness > 0 || contrast > 0)) return img;
        float c = 1 + (float)(rng.NextDouble() * 2 - 1) * contrast;
        float b = (float)(rng.NextDouble() * 2 - 1) * brightness;
        using Scalar scale = c, shift = b, black = 0, white = 255;   // held until the ops return (dotnet/TorchSharp#1434)
        var mean = img.mean();
        return ((img - mean) * scale).Plus(mean).Plus(shift).clamp(black, white);
    }
}
