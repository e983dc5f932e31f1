using MLNetExtensions.Data;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Every training image decoded at its own size, kept once decoded: the first epoch decodes each image on the data
/// workers, later ones augment the kept pixels. Chosen only when the whole set fits the user's byte budget
/// (<see cref="BytesFor"/>). Safe to fill from several threads: decoding is deterministic, so two workers racing on one
/// image keep equal pixels.
/// </summary>
internal sealed class DecodedImageCache
{
    private readonly DecodedImage?[] _images;

    public DecodedImageCache(int count) => _images = new DecodedImage?[count];

    /// <summary>The bytes the images of <paramref name="sizes"/> take decoded with <paramref name="channels"/> channels.</summary>
    public static long BytesFor(IEnumerable<(int Width, int Height)> sizes, int channels) => sizes.Sum(s => (long)s.Width * s.Height * channels);

    /// <summary>Image <paramref name="i"/>, decoded with <paramref name="decode"/> the first time.</summary>
    public DecodedImage GetOrAdd(int i, Func<int, DecodedImage> decode)
    {
        var image = Volatile.Read(ref _images[i]);
        if (image == null)
        {
            image = decode(i);
            Volatile.Write(ref _images[i], image);
        }
        return image;
    }
}
