using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// A short SHA-256 of a training set (its image files' bytes or its pixels, and its targets), part
/// of a checkpoint's fingerprint: a resumed run refuses a checkpoint made on other data, even under the same file names.
/// </summary>
internal sealed class TrainingDataHash : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public void Add(ReadOnlySpan<byte> bytes)
    {
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
        _hash.AppendData(length);   // lengths too, so [ab][c] and [a][bc] differ
        _hash.AppendData(bytes);
    }

    public void Add<T>(ReadOnlySpan<T> values) where T : unmanaged => Add(MemoryMarshal.AsBytes(values));

    /// <summary>The bytes of the file at <paramref name="path"/>, read in pieces (length first, as <see cref="Add(ReadOnlySpan{byte})"/>).</summary>
    public void AddFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, file.Length);
        _hash.AppendData(length);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0) _hash.AppendData(buffer, 0, read);
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>The first 16 hex digits of the hash.</summary>
    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset())[..16];

    public void Dispose() => _hash.Dispose();
}
