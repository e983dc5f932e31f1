using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Every image's (C, H, W) bytes at the network's input size, kept once decoded: the first epoch decodes each image on
/// the data workers, later ones reuse the bytes. Chosen only when the whole set fits the user's byte budget
/// (<see cref="Fits"/>); safe to fill from several threads (decoding is deterministic, so a race stores equal bytes).
/// </summary>
internal sealed class InputPixelCache
{
    private readonly byte[]?[] _pixels;

    public InputPixelCache(int count) => _pixels = new byte[]?[count];

    /// <summary>The bytes all <paramref name="count"/> images take at <paramref name="input"/>'s size.</summary>
    public static long BytesFor(int count, NetworkInput input) => (long)count * input.Channels * input.Height * input.Width;

    /// <summary>Whether <paramref name="count"/> images at <paramref name="input"/>'s size fit <paramref name="budget"/> bytes.</summary>
    public static bool Fits(int count, NetworkInput input, long budget) => BytesFor(count, input) <= budget;

    /// <summary>Image <paramref name="i"/>'s bytes, decoded with <paramref name="decode"/> the first time.</summary>
    public byte[] GetOrAdd(int i, Func<int, byte[]> decode)
    {
        var held = Volatile.Read(ref _pixels[i]);
        if (held != null) return held;
        var pixels = decode(i);
        return Interlocked.CompareExchange(ref _pixels[i], pixels, null) ?? pixels;
    }
}
