using System.Buffers.Binary;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data;

/// <summary>
/// Reads an image's width and height from the first bytes of its file (PNG, JPEG, GIF, BMP), so readers can check
/// boxes without decoding pixels; other formats are decoded through <see cref="MLImage"/>.
/// </summary>
internal static class ImageHeader
{
    private const int Probe = 64 * 1024; // JPEG headers (EXIF, ICC) can push the frame header past the first few KB

    /// <summary>The size of the image in <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable image; the message names it.</exception>
    public static (int Width, int Height) ReadSize(string path)
    {
        byte[] head;
        using (var stream = File.OpenRead(path))
        {
            head = new byte[(int)Math.Min(Probe, stream.Length)];
            stream.ReadExactly(head);
        }
        return ReadSize(path, head);
    }

    /// <summary><see cref="ReadSize(string)"/> from the file's bytes <paramref name="bytes"/> (all of them or its first
    /// 64 KB), read already; a format whose header is not parsed here is still decoded from <paramref name="path"/>.</summary>
    public static (int Width, int Height) ReadSize(string path, ReadOnlySpan<byte> bytes)
    {
        if (TryParse(bytes[..Math.Min(Probe, bytes.Length)], out var size))
            return size;
        try
        {
            using var image = MLImage.CreateFromFile(path);
            return (image.Width, image.Height);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' could not be read as an image ({e.Message}). Replace or re-save the file.", e);
        }
    }

    internal static bool TryParse(ReadOnlySpan<byte> b, out (int Width, int Height) size)
    {
        size = default;
        if (b.Length >= 24 && b.StartsWith(Masks.PngChunks.Signature) && b[12..16].SequenceEqual("IHDR"u8))
        {
            size = ((int)BinaryPrimitives.ReadUInt32BigEndian(b[16..]), (int)BinaryPrimitives.ReadUInt32BigEndian(b[20..]));
            return size.Width > 0 && size.Height > 0;
        }
        if (b.Length >= 10 && (b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)))
        {
            size = (BinaryPrimitives.ReadUInt16LittleEndian(b[6..]), BinaryPrimitives.ReadUInt16LittleEndian(b[8..]));
            return size.Width > 0 && size.Height > 0;
        }
        if (b.Length >= 26 && b[0] == 'B' && b[1] == 'M')
        {
            // BITMAPINFOHEADER and later: int32 width and height (negative height = top-down rows).
            if (BinaryPrimitives.ReadUInt32LittleEndian(b[14..]) < 40) return false;
            size = (BinaryPrimitives.ReadInt32LittleEndian(b[18..]), Math.Abs(BinaryPrimitives.ReadInt32LittleEndian(b[22..])));
            return size.Width > 0 && size.Height > 0;
        }
        if (b.Length >= 4 && b[0] == 0xFF && b[1] == 0xD8)
            return TryParseJpeg(b, out size);
        return false;
    }

    /// <summary>The first frame header's size; false when the walk stops before one (a scan first, or the first 64 KB
    /// end inside a segment: then the file is decoded).</summary>
    private static bool TryParseJpeg(ReadOnlySpan<byte> b, out (int Width, int Height) size)
    {
        bool found = JpegSegments.Walk(b, toFrame: true, out var frame, out _) == null && frame is { Width: > 0, Height: > 0 };
        size = found ? frame!.Value : default;
        return found;
    }
}
