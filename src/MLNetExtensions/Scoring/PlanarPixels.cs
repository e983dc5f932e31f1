using Microsoft.ML.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// Writes an image's pixels as the network's planar float input: what the scoring chain's <c>ExtractPixels</c>
/// (colours R, G, B or Red for grayscale, not interleaved, float, no offset or scale) writes, value for value.
/// </summary>
/// <remarks>
/// ML.NET's pixel extractor costs ~12 ms for a 300×300 image on this CPU (more than the SSD it feeds), as it goes
/// through per-pixel indirections; the batched scorer reads the resized <see cref="MLImage"/> and copies its bytes here.
/// </remarks>
internal static class PlanarPixels
{
    /// <summary>Fills <paramref name="destination"/> (<paramref name="channels"/> × height × width values) from <paramref name="image"/>.</summary>
    /// <param name="image">A 32-bit image; for one channel, one that is already grayscale (its red channel is taken).</param>
    /// <param name="channels">3 for R, G, B planes; 1 for the red plane.</param>
    /// <param name="destination">Exactly channels × height × width values.</param>
    public static void Write(MLImage image, int channels, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Only 1 or 3 channels are extracted.");
        int plane = image.Width * image.Height;
        if (destination.Length != channels * plane)
            throw new ArgumentException($"The destination holds {destination.Length} values; a {image.Width}×{image.Height} image with {channels} channel(s) needs {channels * plane}.", nameof(destination));
        (int r, int g, int b) = image.PixelFormat switch
        {
            MLPixelFormat.Bgra32 => (2, 1, 0),
            MLPixelFormat.Rgba32 => (0, 1, 2),
            _ => throw new NotSupportedException($"Pixel format {image.PixelFormat} is not a 32-bit RGB format."),
        };
        var pixels = image.Pixels;                                   // (H, W, 4) bytes
        if (pixels.Length < 4 * plane)
            throw new ArgumentException($"The image has {pixels.Length} bytes of pixels; {image.Width}×{image.Height} at 32 bits needs {4 * plane}.", nameof(image));
        var red = destination[..plane];
        for (int i = 0, p = 0; i < plane; i++, p += 4) red[i] = pixels[p + r];
        if (channels == 1) return;
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        for (int i = 0, p = 0; i < plane; i++, p += 4)
        {
            green[i] = pixels[p + g];
            blue[i] = pixels[p + b];
        }
    }
}
