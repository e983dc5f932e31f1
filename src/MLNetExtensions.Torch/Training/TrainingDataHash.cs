using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// A short SHA-256 of what a training set holds in memory (the pixels at the network's input size and the targets), part
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

    /// <summary>The first 16 hex digits of the hash.</summary>
    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset())[..16];

    public void Dispose() => _hash.Dispose();
}
