namespace MLNetExtensions.Data.Masks;

/// <summary>The CRC-32 of PNG chunks (ISO 3309, polynomial 0xEDB88320, reflected), by System.IO.Hashing.</summary>
internal static class Crc32
{
    /// <summary>The CRC of a PNG chunk: over its 4-byte type and its data.</summary>
    public static uint OfChunk(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        var crc = new System.IO.Hashing.Crc32();
        crc.Append(type);
        crc.Append(data);
        return crc.GetCurrentHashAsUInt32();
    }
}
