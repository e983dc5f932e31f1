using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Every image's (C, H, W) bytes at the network's input size, kept once decoded: the first epoch decodes each image on
/// the data workers, later ones reuse the bytes. Chosen only when the whole set fits the user's byte budget
/// (<see cref="Fits"/>). The bytes live in a few large slabs allocated up front rather than one array per image, so
/// filling the cache during training does not grow the garbage collector's older generations with thousands of objects.
/// Safe to fill from several threads: decoding is deterministic, so two workers racing on one image write equal bytes.
/// </summary>
internal sealed class InputPixelCache
{
    private const long SlabBytes = 1L << 30;

    private readonly byte[][] _slabs;
    private readonly int _size, _perSlab;
    private readonly int[] _filled;   // 1 once the image's bytes are in its slab

    public InputPixelCache(int count, NetworkInput input)
    {
        _size = input.Channels * input.Height * input.Width;
        _perSlab = (int)Math.Max(1, SlabBytes / _size);
        _slabs = new byte[(count + _perSlab - 1) / _perSlab][];
        for (int s = 0; s < _slabs.Length; s++) _slabs[s] = GC.AllocateUninitializedArray<byte>(Math.Min(_perSlab, count - s * _perSlab) * _size);
        _filled = new int[count];
    }

    /// <summary>The bytes all <paramref name="count"/> images take at <paramref name="input"/>'s size.</summary>
    public static long BytesFor(int count, NetworkInput input) => (long)count * input.Channels * input.Height * input.Width;

    /// <summary>Whether <paramref name="count"/> images at <paramref name="input"/>'s size fit <paramref name="budget"/> bytes.</summary>
    public static bool Fits(int count, NetworkInput input, long budget) => BytesFor(count, input) <= budget;

    /// <summary>Image <paramref name="i"/>'s bytes, decoded with <paramref name="decode"/> the first time.</summary>
    public ReadOnlyMemory<byte> GetOrAdd(int i, Func<int, byte[]> decode)
    {
        var slot = new Memory<byte>(_slabs[i / _perSlab], i % _perSlab * _size, _size);
        if (Volatile.Read(ref _filled[i]) == 0)
        {
            decode(i).AsSpan().CopyTo(slot.Span);
            Volatile.Write(ref _filled[i], 1);
        }
        return slot;
    }
}
