using MLNetExtensions.Data;
using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Pixels of images at a network's input size, read by <see cref="NetworkInput.ReadPixels"/>, the function the scoring
/// chain reads them with, so training sees exactly the pixels scoring will see. Kept as bytes (C, H, W) so a dataset
/// fits in memory cheaply; decoded on up to <see cref="Environment.ProcessorCount"/> threads, in order.
/// </summary>
internal static class ImagePixels
{
    /// <summary>The (C, H, W) bytes of each image at the input size, in order.</summary>
    public static List<byte[]> Load(IReadOnlyList<string> paths, NetworkInput input) => InParallel(paths, input.ReadPixels);

    /// <summary>Each image decoded at its own size in the input's colour, in order.</summary>
    public static List<DecodedImage> Decode(IReadOnlyList<string> paths, NetworkInput input) => InParallel(paths, input.Decode);

    /// <summary><paramref name="read"/> of every path on up to the core count of threads, in order; the exception of the
    /// a failing path is rethrown as it was (the rows were checked before, so this is a file changed since).</summary>
    private static List<T> InParallel<T>(IReadOnlyList<string> paths, Func<string, T> read)
    {
        var result = new T[paths.Count];
        try
        {
            Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => result[i] = read(paths[i]));
        }
        catch (AggregateException e)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return [.. result];
    }
}
