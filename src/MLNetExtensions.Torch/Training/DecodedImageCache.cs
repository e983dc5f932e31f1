using MLNetExtensions.Data;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Every training image (or mask) decoded at its own size, kept once decoded: the first epoch decodes each on the data
/// workers, later ones augment the kept pixels. Chosen only when the whole set fits the user's byte budget
/// (<see cref="DecodedImageCache.BytesFor"/>). Safe to fill from several threads: decoding is deterministic, so two
/// workers racing on one image keep equal pixels.
/// </summary>
internal sealed class DecodedImageCache<T>(int count) where T : class
{
    private readonly T?[] _items = new T?[count];

    /// <summary>Item <paramref name="i"/>, decoded with <paramref name="decode"/> the first time.</summary>
    public T GetOrAdd(int i, Func<int, T> decode)
    {
        var item = Volatile.Read(ref _items[i]);
        if (item == null)
        {
            item = decode(i);
            Volatile.Write(ref _items[i], item);
        }
        return item;
    }
}

/// <summary>The size arithmetic of <see cref="DecodedImageCache{T}"/>.</summary>
internal static class DecodedImageCache
{
    /// <summary>The bytes the images of <paramref name="sizes"/> take decoded with <paramref name="channels"/> channels.</summary>
    public static long BytesFor(IEnumerable<(int Width, int Height)> sizes, int channels) => sizes.Sum(s => (long)s.Width * s.Height * channels);
}
