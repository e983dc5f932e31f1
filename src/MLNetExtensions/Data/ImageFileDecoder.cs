using SkiaSharp;

namespace MLNetExtensions.Data;

/// <summary>
/// Decodes an image file completely with SkiaSharp's <see cref="SKCodec"/>, which reports what ML.NET's <c>LoadImages</c>
/// does not: a truncated or damaged JPEG/PNG decodes there with no error, the missing part grey. Training
/// (<c>DetectionTrainingSet</c>, <c>SegmentationTrainingSet</c>) and scoring (<see cref="Scoring.ImageSizeMapping"/>, the
/// first step of every scoring chain) call it on every image before its pixels are read, so both refuse the same files.
/// </summary>
/// <remarks>
/// The pixels themselves come from <c>LoadImages</c> in training and in scoring alike (<see cref="Scoring.NetworkInput.PixelPipeline"/>),
/// so both apply the same rules, checked in <c>ImageDecodingTests</c>:
/// <list type="bullet">
/// <item>EXIF orientation is <b>not</b> applied: the pixels are the stored ones (as torchvision's <c>read_image</c> and PIL's
/// <c>Image.open</c> by default). Boxes and masks are in the stored pixels' coordinates.</item>
/// <item>Transparency: an RGBA image is composited on <b>black</b> (each colour is multiplied by its alpha).</item>
/// <item>16-bit PNGs become 8-bit (the top byte); grey images are replicated to RGB; CMYK JPEGs (Adobe, inverted) are
/// converted to RGB by libjpeg-turbo.</item>
/// </list>
/// Decoding a file here and again in <c>LoadImages</c> costs one more decode per image.
/// </remarks>
internal static class ImageFileDecoder
{
    /// <summary>Decodes the whole of <paramref name="path"/> and returns its size; throws <see cref="InvalidDataException"/>
    /// naming the file, what is wrong and what to do (callers add the row) when the file
    /// is not an image SkiaSharp reads or does not decode completely. A missing file throws <see cref="IOException"/>.</summary>
    public static (int Width, int Height) Check(string path)
    {
        using var stream = File.OpenRead(path);
        return Check(path, stream);
    }

    /// <summary><see cref="Check(string)"/> on the file's bytes <paramref name="bytes"/>, read already (a caller that also
    /// hashes the file reads it once); <paramref name="path"/> only names it in messages.</summary>
    public static (int Width, int Height) Check(string path, byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return Check(path, stream);
    }

    private static (int Width, int Height) Check(string path, Stream stream)
    {
        using var codec = SKCodec.Create(stream, out var created);
        if (codec == null && created is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput)
            throw Truncated(path, created);
        if (codec == null)
            throw new InvalidDataException($"Image '{path}' is not an image that can be decoded ({created}: not a JPEG, PNG, BMP, GIF, WebP or ICO file, " +
                "or its header is damaged). Convert it to JPEG or PNG, or remove its row.");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
        if (info.Width <= 0 || info.Height <= 0)
            throw new InvalidDataException($"Image '{path}' has no pixels ({info.Width}×{info.Height}). Remove its row.");
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        return result switch
        {
            SKCodecResult.Success => (info.Width, info.Height),
            SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => throw Truncated(path, result),
            _ => throw new InvalidDataException($"Image '{path}' cannot be decoded ({result}). Convert it to an 8-bit JPEG or PNG, or remove its row."),
        };
    }

    private static InvalidDataException Truncated(string path, SKCodecResult result)
        => new($"Image '{path}' is truncated or damaged ({result}: the file ends or breaks before all its pixels decode, and the rest " +
               "would be read as grey). Download or export the file again, or remove its row.");
}
