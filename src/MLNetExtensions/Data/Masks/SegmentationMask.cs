using Microsoft.ML.Data;

namespace MLNetExtensions.Data.Masks;

/// <summary>
/// A segmentation mask: one class index per pixel, row-major (0 = background,
/// <see cref="SegmentationColumns.IgnoreIndex"/> = void). Reads and writes the PNG masks of Pascal VOC.
/// </summary>
public sealed class SegmentationMask
{
    /// <summary>A mask of the given size, all background.</summary>
    public SegmentationMask(int width, int height) : this(width, height, new byte[checked(Positive(width, nameof(width)) * Positive(height, nameof(height)))]) { }

    /// <summary>A mask over existing row-major indices (not copied).</summary>
    public SegmentationMask(int width, int height, byte[] pixels)
    {
        Positive(width, nameof(width));
        Positive(height, nameof(height));
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != (long)width * height)
            throw new ArgumentException($"A {width}x{height} mask needs {(long)width * height} pixels, not {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>The class indices, row-major: pixel (x, y) is element <c>y * Width + x</c>.</summary>
    public byte[] Pixels { get; }

    /// <summary>The class index at column <paramref name="x"/>, row <paramref name="y"/>.</summary>
    public byte this[int x, int y]
    {
        get => Pixels[Offset(x, y)];
        set => Pixels[Offset(x, y)] = value;
    }

    /// <summary>
    /// Reads a mask. Palette PNGs (bit depth 1 to 8, interlaced or not) give their palette indices, as VOC's
    /// <c>SegmentationClass</c> files do; grayscale PNGs of up to 8 bits give their values. Any other image (RGB PNG,
    /// BMP, ...) is decoded and its colours are mapped back through the <see cref="VocColormap"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable image, or a colour image uses a colour
    /// outside the VOC colormap; the message names the file.</exception>
    public static SegmentationMask CreateFromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Mask file '{path}' not found.", path);
        var bytes = File.ReadAllBytes(path);
        if (PngChunks.HasSignature(bytes))
        {
            var png = PngChunks.Read(bytes, path);
            if (png.Channels == 1 && png.BitDepth <= 8)
                return new SegmentationMask(png.Width, png.Height, PngScanlines.DecodeSamples(png, path));
            if (png.ColorType == PngContents.Grayscale)
                throw new InvalidDataException($"'{path}' is a 16-bit grayscale PNG; masks hold class indices 0-255. Save it as an 8-bit grayscale or palette PNG.");
        }
        return FromColorImage(path);
    }

    /// <summary>Writes an 8-bit palette PNG with the VOC colormap, the format of VOC's <c>SegmentationClass</c> files.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!string.Equals(Path.GetExtension(path), ".png", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"Masks are saved as PNG; '{path}' should end in .png.", nameof(path));
        File.WriteAllBytes(path, EncodePng());
    }

    /// <summary>The bytes of the palette PNG <see cref="Save"/> writes.</summary>
    public byte[] EncodePng() => PngEncoder.EncodeIndexed(Width, Height, Pixels, VocColormap.Palette);

    private static SegmentationMask FromColorImage(string path)
    {
        MLImage image;
        try
        {
            image = MLImage.CreateFromFile(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' could not be decoded as an image ({e.Message}). Masks must be PNG, or an image format SkiaSharp reads.", e);
        }
        using (image)
        {
            var pixels = image.Pixels;
            bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
            if (!bgra && image.PixelFormat != MLPixelFormat.Rgba32)
                throw new InvalidDataException($"'{path}' decoded to pixel format {image.PixelFormat}; expected 32-bit RGBA or BGRA.");
            var mask = new SegmentationMask(image.Width, image.Height);
            for (int i = 0; i < mask.Pixels.Length; i++)
            {
                byte r = pixels[4 * i + (bgra ? 2 : 0)], g = pixels[4 * i + 1], b = pixels[4 * i + (bgra ? 0 : 2)];
                if (!VocColormap.TryGetIndex(r, g, b, out mask.Pixels[i]))
                    throw new InvalidDataException(
                        $"'{path}': pixel (x={i % image.Width}, y={i / image.Width}) has colour ({r}, {g}, {b}), which is not in the Pascal VOC colormap, " +
                        "so its class is unknown. Save masks as palette PNGs or 8-bit grayscale PNGs of class indices, or draw them only in VOC colormap colours (lossless formats only).");
            }
            return mask;
        }
    }

    private int Offset(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
            throw new ArgumentOutOfRangeException(x < 0 || x >= Width ? nameof(x) : nameof(y), $"Pixel ({x}, {y}) is outside the {Width}x{Height} mask.");
        return y * Width + x;
    }

    private static int Positive(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }
}
