using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Pixels of images at a network's input size, read by <see cref="NetworkInput.ReadPixels"/>, the function the scoring
/// chain reads them with, so training sees exactly the pixels scoring will see. Kept as bytes (C, H, W) so a dataset
/// fits in memory cheaply; decoded on up to <see cref="Environment.ProcessorCount"/> threads, in order.
/// </summary>
internal static class ImagePixels
{
    /// <summary>The (C, H, W) bytes of each image, in order.</summary>
    public static List<byte[]> Load(IReadOnlyList<string> paths, NetworkInput input)
    {
        var result = new byte[paths.Count][];
        Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => result[i] = input.ReadPixels(paths[i]));
        return [.. result];
    }
}
