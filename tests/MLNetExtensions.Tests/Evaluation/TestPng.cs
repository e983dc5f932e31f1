using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>Writes small 8-bit grayscale and palette PNGs for mask tests (filter 0 on every row).</summary>
internal static class TestPng
{
    public static void WriteGray(string path, int width, int height, byte[] pixels) => Write(path, width, height, pixels, 0, null);

    /// <summary>A palette PNG whose palette is the first 256 colours of the Pascal VOC colormap.</summary>
    public static void WriteVocPalette(string path, int width, int height, byte[] indices) => Write(path, width, height, indices, 3, VocPalette());

    private static void Write(string path, int width, int height, byte[] pixels, byte colourType, byte[]? palette)
    {
        using var file = File.Create(path);
        file.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = colourType;
        Chunk(file, "IHDR", ihdr);
        if (palette != null) Chunk(file, "PLTE", palette);
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            raw.Write(pixels, y * width, width);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(raw.ToArray());
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    internal static byte[] VocPalette()
    {
        var palette = new byte[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            int r = 0, g = 0, b = 0, c = i;
            for (int j = 0; j < 8; j++)
            {
                r |= ((c >> 0) & 1) << (7 - j);
                g |= ((c >> 1) & 1) << (7 - j);
                b |= ((c >> 2) & 1) << (7 - j);
                c >>= 3;
            }
            palette[3 * i] = (byte)r; palette[3 * i + 1] = (byte)g; palette[3 * i + 2] = (byte)b;
        }
        return palette;
    }
}
