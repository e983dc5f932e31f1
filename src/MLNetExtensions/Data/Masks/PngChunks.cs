using System.Buffers.Binary;

namespace MLNetExtensions.Data.Masks;

/// <summary>The header fields of a PNG (its IHDR chunk), its palette and its concatenated image data.</summary>
internal sealed record PngContents(int Width, int Height, int BitDepth, int ColorType, bool Interlaced, byte[]? Palette, byte[] CompressedData)
{
    public const byte Grayscale = 0, Truecolor = 2, Indexed = 3, GrayscaleAlpha = 4, TruecolorAlpha = 6;

    /// <summary>Samples per pixel of the colour type.</summary>
    public int Channels => ColorType switch { Truecolor => 3, GrayscaleAlpha => 2, TruecolorAlpha => 4, _ => 1 };
}

/// <summary>Splits a PNG file into chunks, checking the signature, lengths and CRCs.</summary>
internal static class PngChunks
{
    public static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool HasSignature(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Signature);

    /// <summary>Reads what a mask decoder needs; <paramref name="source"/> names the file in errors. Without
    /// <paramref name="withData"/> every chunk is checked the same but the image data are not collected
    /// (<see cref="PngContents.CompressedData"/> is empty): a check of the file's structure.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed PNG.</exception>
    public static PngContents Read(ReadOnlySpan<byte> bytes, string source, bool withData = true)
    {
        if (!HasSignature(bytes))
            throw Invalid(source, "it does not start with the PNG signature");
        int pos = Signature.Length;
        PngContents? header = null;
        byte[]? palette = null;
        using var data = withData ? new MemoryStream() : null;
        long dataBytes = 0;
        bool ended = false;
        while (!ended)
        {
            if (pos + 12 > bytes.Length)
                throw Invalid(source, $"the file ends inside a chunk header at byte {pos} (truncated file?)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes[pos..]);
            var type = bytes.Slice(pos + 4, 4);
            string name = System.Text.Encoding.ASCII.GetString(type);
            if (length > int.MaxValue || pos + 12 + (long)length > bytes.Length)
                throw Invalid(source, $"chunk '{name}' at byte {pos} claims {length} bytes, past the end of the file (truncated file?)");
            var body = bytes.Slice(pos + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes[(pos + 8 + (int)length)..]);
            if (crc != Crc32.OfChunk(type, body))
                throw Invalid(source, $"chunk '{name}' at byte {pos} has a wrong CRC (corrupt file)");
            pos += 12 + (int)length;

            switch (name)
            {
                case "IHDR":
                    header = ReadHeader(body, source);
                    break;
                case "PLTE":
                    if (length % 3 != 0 || length == 0 || length > 768)
                        throw Invalid(source, $"the palette has {length} bytes; it must hold 1 to 256 RGB triples");
                    palette = body.ToArray();
                    break;
                case "IDAT":
                    data?.Write(body);
                    dataBytes += length;
                    break;
                case "IEND":
                    ended = true;
                    break;
                default:
                    // Ancillary chunks (lowercase first letter) carry nothing a mask needs; an unknown critical chunk
                    // changes how the image must be read, so refuse it as the PNG specification asks.
                    if ((type[0] & 0x20) == 0)
                        throw Invalid(source, $"it has the unknown critical chunk '{name}'");
                    break;
            }
            if (header == null)
                throw Invalid(source, "the first chunk is not IHDR");
        }
        if (dataBytes == 0)
            throw Invalid(source, "it has no IDAT (image data) chunk");
        if (header!.ColorType == PngContents.Indexed && palette == null)
            throw Invalid(source, "it is a palette image without a PLTE chunk");
        return header with { Palette = palette, CompressedData = data?.ToArray() ?? [] };
    }

    private static PngContents ReadHeader(ReadOnlySpan<byte> body, string source)
    {
        if (body.Length != 13)
            throw Invalid(source, $"the IHDR chunk has {body.Length} bytes instead of 13");
        int width = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(body), int.MaxValue);
        int height = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(body[4..]), int.MaxValue);
        int depth = body[8], colorType = body[9];
        if (width == 0 || height == 0)
            throw Invalid(source, $"its size is {width}x{height}");
        bool depthOk = colorType switch
        {
            PngContents.Grayscale => depth is 1 or 2 or 4 or 8 or 16,
            PngContents.Indexed => depth is 1 or 2 or 4 or 8,
            PngContents.Truecolor or PngContents.GrayscaleAlpha or PngContents.TruecolorAlpha => depth is 8 or 16,
            _ => throw Invalid(source, $"its colour type {colorType} does not exist"),
        };
        if (!depthOk)
            throw Invalid(source, $"bit depth {depth} is not allowed with colour type {colorType}");
        if (body[10] != 0 || body[11] != 0 || body[12] > 1)
            throw Invalid(source, $"it uses compression {body[10]}, filter method {body[11]}, interlace {body[12]}; only 0, 0 and 0 or 1 exist");
        return new PngContents(width, height, depth, colorType, body[12] == 1, null, []);
    }

    internal static InvalidDataException Invalid(string source, string problem)
        => new($"'{source}' is not a readable PNG: {problem}. Re-save the file as PNG.") { Data = { [ProblemKey] = problem } };

    private const string ProblemKey = "PngProblem";

    /// <summary>What <see cref="Invalid"/> said is wrong, without the file's name, for callers that word the message
    /// themselves; null for an exception not made there.</summary>
    internal static string? ProblemOf(InvalidDataException ex) => ex.Data[ProblemKey] as string;
}
