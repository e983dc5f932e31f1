using MLNetExtensions.Data.Masks;

namespace MLNetExtensions.Data;

/// <summary>
/// Checks that an image file is whole without decoding its pixels, for <c>Fit</c>'s row check of a streamed training
/// set (the workers decode each image completely when they first read it). A PNG is walked chunk by chunk: every
/// chunk's length and CRC-32, a valid IHDR, image data, and IEND at the end. A JPEG is walked marker by marker up to
/// its first scan: a frame header with a size, then an end-of-image marker after the scan data. What is neither is
/// decoded completely (<see cref="ImageFileDecoder.Check(string, byte[])"/>).
/// </summary>
/// <remarks>
/// A truncated file fails here, as in a complete decode, before the first step; a file whose compressed pixel data are
/// damaged while its structure is intact (a PNG re-saved with matching CRCs, a JPEG with bytes changed inside its scan)
/// passes, and then fails where a worker decodes it, naming its row (<see cref="ImageFileDecoder"/>'s message). The
/// check costs a small part of a decode: measured by the <c>data-pipeline</c> bench.
/// </remarks>
internal static class ImageFileIntegrity
{
    /// <summary>The size of the image in <paramref name="bytes"/> (the file <paramref name="path"/>, read already),
    /// checked as the class says; throws <see cref="InvalidDataException"/> naming the file and what to do.</summary>
    public static (int Width, int Height) Check(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (PngChunks.HasSignature(bytes)) return CheckPng(path, bytes);
        if (bytes.Length >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) return CheckJpeg(path, bytes);
        return ImageFileDecoder.Check(path, bytes);
    }

    private static (int Width, int Height) CheckPng(string path, byte[] bytes)
    {
        PngContents png;
        try { png = PngChunks.Read(bytes, path, withData: false); }
        catch (InvalidDataException ex) when (PngChunks.ProblemOf(ex) is { } problem) { throw Damaged(path, problem); }
        return (png.Width, png.Height);
    }

    private static (int Width, int Height) CheckJpeg(string path, ReadOnlySpan<byte> b)
    {
        if (JpegSegments.Walk(b, toFrame: false, out var size, out int pos) is { } problem) throw Damaged(path, problem);
        if (size is not { Width: > 0, Height: > 0 } found)
            throw Damaged(path, "it has no frame header with a size before its scan data");
        // The scan data end with the end-of-image marker; bytes some writers append after it are allowed.
        if (b[pos..].LastIndexOf([(byte)0xFF, (byte)0xD9]) < 0)
            throw Damaged(path, "no end-of-image marker follows its scan data: the file ends before all its pixels");
        return found;
    }

    private static InvalidDataException Damaged(string path, string problem)
        => new($"Image '{path}' is truncated or damaged ({problem}); decoded, the rest would be read as grey. " +
               "Download or export the file again, or remove its row.");
}
