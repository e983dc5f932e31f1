using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>An image as its pixel bytes: row-major, 4 bytes per pixel in <see cref="Format"/>'s channel order.</summary>
internal sealed class ImagePixels
{
    public ImagePixels(byte[] pixels, int width, int height, MLPixelFormat format)
    {
        Pixels = pixels;
        Width = width;
        Height = height;
        Format = format;
    }

    public byte[] Pixels { get; }
    public int Width { get; }
    public int Height { get; }
    public MLPixelFormat Format { get; }
    public bool RedFirst => Format == MLPixelFormat.Rgba32;

    /// <summary>Copies the pixels out of an image; only 32-bit BGRA/RGBA images (what LoadImages makes) are accepted.</summary>
    public static ImagePixels Read(MLImage image, string transform, string column, long row)
    {
        if (image.PixelFormat is not (MLPixelFormat.Bgra32 or MLPixelFormat.Rgba32) || image.BitsPerPixel != 32)
            throw new InvalidDataException($"{transform}: row {row}, column '{column}': the image is {image.PixelFormat} with {image.BitsPerPixel} bits per pixel; only 32-bit Bgra32/Rgba32 images are supported.");
        var pixels = image.Pixels;
        if (pixels.Length != image.Width * image.Height * 4)
            throw new InvalidDataException($"{transform}: row {row}, column '{column}': {pixels.Length} pixel bytes for a {image.Width}×{image.Height} image; expected tightly packed rows of 4 bytes per pixel.");
        return new ImagePixels(pixels.ToArray(), image.Width, image.Height, image.PixelFormat);
    }

    /// <summary>One pixel of the given colour in this image's channel order, opaque.</summary>
    public byte[] Colour(byte red, byte green, byte blue)
        => RedFirst ? [red, green, blue, 255] : [blue, green, red, 255];

    /// <summary>The pixels as interleaved R, G, B bytes (alpha dropped), 3 per pixel.</summary>
    public byte[] ToRgb()
    {
        (int r, int b) = RedFirst ? (0, 2) : (2, 0);
        var rgb = new byte[Width * Height * 3];
        for (int p = 0, i = 0; i < rgb.Length; p += 4, i += 3)
        {
            rgb[i] = Pixels[p + r];
            rgb[i + 1] = Pixels[p + 1];
            rgb[i + 2] = Pixels[p + b];
        }
        return rgb;
    }

    public MLImage ToImage() => MLImage.CreateFromPixels(Width, Height, Format, Pixels);
}
