using SkiaSharp;

namespace MLNetExtensions.Data;

/// <summary>
/// Decodes an image file completely with SkiaSharp's <see cref="SKCodec"/>, which reports what ML.NET's <c>LoadImages</c>
/// does not: a truncated or damaged JPEG/PNG decodes there with no error, the missing part grey. Training and scoring
/// both read their pixels through <see cref="Decode"/> (<see cref="Scoring.NetworkInput.ReadPixels"/>), so both refuse
/// the same files and see the same pixels.
/// </summary>
/// <remarks>
/// The rules, checked in <c>ImageDecodingTests</c>:
/// <list type="bullet">
/// <item>EXIF orientation is <b>not</b> applied: the pixels are the stored ones (as torchvision's <c>read_image</c> and PIL's
/// <c>Image.open</c> by default). Boxes and masks are in the stored pixels' coordinates.</item>
/// <item>Transparency: an RGBA image is composited on <b>white</b> (<see cref="Background"/>): a transparent pixel is white,
/// a half-transparent one halfway between its colour and white, as an image viewer shows it.</item>
/// <item>16-bit PNGs become 8-bit; grey images are replicated to RGB; CMYK JPEGs (Adobe, inverted) are converted to RGB by
/// libjpeg-turbo. A grey network input is the luma 0.299 R + 0.587 G + 0.114 B of the composited colour.</item>
/// </list>
/// </remarks>
internal static class ImageFileDecoder
{
    /// <summary>The colour transparent pixels are composited on.</summary>
    public const byte Background = 255;

    /// <summary>Decodes the whole of <paramref name="path"/> and returns its size; throws <see cref="InvalidDataException"/>
    /// naming the file, what is wrong and what to do (callers add the row) when the file
    /// is not an image SkiaSharp reads or does not decode completely. A missing file throws <see cref="IOException"/>.</summary>
    public static (int Width, int Height) Check(string path)
    {
        using var bitmap = DecodeBitmap(path);
        return (bitmap.Width, bitmap.Height);
    }

    /// <summary>The pixels of <paramref name="path"/> as planar (C, H, W) bytes, C = 3 (RGB) or 1 (luma, with
    /// <paramref name="grayscale"/>), composited on <see cref="Background"/>; fails as <see cref="Check"/> does.</summary>
    public static DecodedImage Decode(string path, bool grayscale)
    {
        using var bitmap = DecodeBitmap(path);
        return ToPlanar(bitmap, grayscale);
    }

    /// <summary><see cref="Decode(string, bool)"/> of the file's bytes <paramref name="bytes"/>, read already (a caller that
    /// also hashes or checks the file reads it once); <paramref name="path"/> only names it in messages.</summary>
    public static DecodedImage Decode(string path, byte[] bytes, bool grayscale)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        using var bitmap = DecodeBitmap(path, stream);
        return ToPlanar(bitmap, grayscale);
    }

    /// <summary>A decoded RGBA bitmap as planar RGB or luma bytes, composited on <see cref="Background"/>.</summary>
    private static DecodedImage ToPlanar(SKBitmap bitmap, bool grayscale)
    {
        int w = bitmap.Width, h = bitmap.Height, channels = grayscale ? 1 : 3;
        var rgba = bitmap.GetPixelSpan();
        int plane = w * h;
        var pixels = new byte[plane * channels];
        for (int i = 0; i < plane; i++)
        {
            int a = rgba[4 * i + 3];
            int r = Composite(rgba[4 * i], a), g = Composite(rgba[4 * i + 1], a), b = Composite(rgba[4 * i + 2], a);
            if (grayscale) pixels[i] = (byte)((299 * r + 587 * g + 114 * b + 500) / 1000);
            else
            {
                pixels[i] = (byte)r;
                pixels[plane + i] = (byte)g;
                pixels[2 * plane + i] = (byte)b;
            }
        }
        return new DecodedImage(pixels, w, h, channels);
    }

    /// <summary>A colour of alpha <paramref name="a"/> (both 0..255, not premultiplied) over <see cref="Background"/>.</summary>
    private static int Composite(int colour, int a) => a == 255 ? colour : (colour * a + Background * (255 - a) + 127) / 255;

    /// <summary>The whole file decoded to unpremultiplied RGBA, or the error <see cref="Check"/> documents.</summary>
    private static SKBitmap DecodeBitmap(string path)
    {
        using var stream = File.OpenRead(path);
        return DecodeBitmap(path, stream);
    }

    /// <summary><see cref="Check(string)"/> on the file's bytes <paramref name="bytes"/>, read already (a caller that also
    /// hashes the file reads it once); <paramref name="path"/> only names it in messages.</summary>
    public static (int Width, int Height) Check(string path, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        using var bitmap = DecodeBitmap(path, stream);
        return (bitmap.Width, bitmap.Height);
    }

    private static SKBitmap DecodeBitmap(string path, Stream stream)
    {
        using var codec = SKCodec.Create(stream, out var created);
        if (codec == null && created is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput)
            throw Truncated(path, created);
        if (codec == null)
            throw new InvalidDataException($"Image '{path}' is not an image that can be decoded ({created}: not a JPEG, PNG, BMP, GIF, WebP or ICO file, " +
                "or its header is damaged). Convert it to JPEG or PNG, or remove its row.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (info.Width <= 0 || info.Height <= 0)
            throw new InvalidDataException($"Image '{path}' has no pixels ({info.Width}×{info.Height}). Remove its row.");
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.Success) return bitmap;
        bitmap.Dispose();
        throw result switch
        {
            SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => Truncated(path, result),
            _ => new InvalidDataException($"Image '{path}' cannot be decoded ({result}). Convert it to an 8-bit JPEG or PNG, or remove its row."),
        };
    }

    private static InvalidDataException Truncated(string path, SKCodecResult result)
        => new($"Image '{path}' is truncated or damaged ({result}: the file ends or breaks before all its pixels decode, and the rest " +
               "would be read as grey). Download or export the file again, or remove its row.");
}
