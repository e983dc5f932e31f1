using System.Buffers.Binary;

namespace MLNetExtensions.Data;

/// <summary>
/// The marker segments of a JPEG file from its start-of-image marker up to its first scan, walked by one set of rules
/// for <see cref="ImageHeader"/> (the frame's size) and <see cref="ImageFileIntegrity"/> (the structure, then the end
/// of the scan data).
/// </summary>
internal static class JpegSegments
{
    /// <summary>Walks <paramref name="b"/> (a file starting with FF D8) segment by segment until the first frame header
    /// when <paramref name="toFrame"/>, else until the first start of scan. Returns null when it got there, else the
    /// problem in words. <paramref name="frame"/>: the size of the last frame header passed (null: none);
    /// <paramref name="scan"/>: the position of the start-of-scan marker (−1 when it stopped before one).</summary>
    public static string? Walk(ReadOnlySpan<byte> b, bool toFrame, out (int Width, int Height)? frame, out int scan)
    {
        frame = null;
        scan = -1;
        int pos = 2;
        while (true)
        {
            if (pos + 4 > b.Length) return $"the file ends at byte {b.Length}, inside its headers, before any scan data";
            if (b[pos] != 0xFF) return $"byte {pos} is not a JPEG marker";
            byte marker = b[pos + 1];
            if (marker == 0xFF) { pos++; continue; }                                // fill byte
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7)) { pos += 2; continue; }    // markers without a length
            if (marker == 0xD9) return $"it ends (byte {pos}) before any scan data";
            int length = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 2)..]);
            if (length < 2 || pos + 2 + length > b.Length)
                return $"segment 0xFF{marker:X2} at byte {pos} claims {length} bytes, past the end of the file";
            // Start-of-frame markers C0-CF except C4 (Huffman tables), C8 (reserved) and CC (arithmetic conditioning).
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC && length >= 7)
            {
                frame = (BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 5)..]));
                if (toFrame) return null;
            }
            if (marker == 0xDA) { scan = pos; return null; }                         // start of scan: entropy-coded data follow
            pos += 2 + length;
        }
    }
}
