using System.Buffers.Binary;
using Microsoft.ML.Data;

namespace MLNetExtensions.Evaluation;

/// <summary>
/// The default mask loader of <see cref="SegmentationEvaluatorOptions.MaskLoader"/>: reads a PNG of class indices.
/// An 8-bit grayscale PNG gives its values; a palette PNG (Pascal VOC's <c>SegmentationClass</c>) is decoded to
/// colours by <see cref="MLImage"/> and mapped back to indices through the Pascal VOC colormap. Kept small on
/// purpose: a palette decoder that reads indices directly can replace it.
/// </summary>
internal static class PngMaskLoader
{
    private const byte Grayscale = 0, Palette = 3;
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    private static readonly Lazy<Dictionary<int, byte>> IndexOfVocColour = new(BuildVocInverse);

    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a PNG, not 8-bit grayscale or palette, or a colour outside the VOC colormap.</exception>
    public static (byte[] Pixels, int Width, int Height) Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The mask '{path}' does not exist.", path);
        var header = new byte[26];
        using (var stream = File.OpenRead(path))
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.AsSpan(0, 8).SequenceEqual(Signature))
                throw new InvalidDataException($"The mask '{path}' is not a PNG file. Masks must be PNGs of class indices (8-bit grayscale or palette).");
        // IHDR is the first chunk: width (16..19), height (20..23), bit depth (24), colour type (25).
        byte bitDepth = header[24], colourType = header[25];
        if (bitDepth != 8 || colourType is not (Grayscale or Palette))
            throw new InvalidDataException($"The mask '{path}' is a PNG of colour type {colourType} with {bitDepth}-bit samples; masks must be 8-bit grayscale (type 0) or 8-bit palette (type 3) PNGs of class indices.");

        using var image = MLImage.CreateFromFile(path);
        int width = image.Width, height = image.Height;
        if (width != BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(16)) || height != BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(20)))
            throw new InvalidDataException($"The mask '{path}' decoded to a size that differs from its PNG header.");
        var src = image.Pixels;
        var pixels = new byte[width * height];
        if (image.BitsPerPixel == 8)
        {
            src[..pixels.Length].CopyTo(pixels);
            return (pixels, width, height);
        }
        (int r, int g, int b) = image.PixelFormat == MLPixelFormat.Rgba32 ? (0, 1, 2) : (2, 1, 0);
        var inverse = colourType == Palette ? IndexOfVocColour.Value : null;
        for (int i = 0; i < pixels.Length; i++)
        {
            byte R = src[4 * i + r], G = src[4 * i + g], B = src[4 * i + b];
            if (inverse == null)
                pixels[i] = R; // grayscale expanded to R = G = B
            else if (!inverse.TryGetValue((R << 16) | (G << 8) | B, out pixels[i]))
                throw new InvalidDataException($"The mask '{path}' has the colour ({R}, {G}, {B}) at ({i % width}, {i / width}), which is not in the Pascal VOC colormap. Save masks as grayscale PNGs of class indices, or with the VOC palette.");
        }
        return (pixels, width, height);
    }

    /// <summary>The Pascal VOC colormap (bit-interleaved: bits 0, 1, 2 of the index go to the top bits of R, G, B,
    /// then bits 3, 4, 5, and so on), as colour → index. Every index has its own colour, so it inverts.</summary>
    private static Dictionary<int, byte> BuildVocInverse()
    {
        var inverse = new Dictionary<int, byte>(256);
        for (int index = 0; index < 256; index++)
        {
            int r = 0, g = 0, b = 0, c = index;
            for (int j = 0; j < 8; j++)
            {
                r |= ((c >> 0) & 1) << (7 - j);
                g |= ((c >> 1) & 1) << (7 - j);
                b |= ((c >> 2) & 1) << (7 - j);
                c >>= 3;
            }
            inverse[(r << 16) | (g << 8) | b] = (byte)index;
        }
        return inverse;
    }
}
