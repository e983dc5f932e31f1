using Microsoft.ML.Runtime;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// A streamed training set's steps in the order the training loop asks for them (<see cref="DetectionBatchStream"/>,
/// <see cref="Segmentation.SegmentationBatchStream"/>): a <see cref="BatchPrefetcher{TSample}"/> started at the first step
/// asked for, and started over at any step other than the next one (a resumed or restarted run); each step's examples
/// are checked against the loop's. With no workers the training thread makes each step's examples when it is asked for.
/// </summary>
internal sealed class StreamedSteps<TSample>(TrainingPlan plan, BatchPrefetcher<TSample>.SampleMaker make, int workers, int prefetch) : IDisposable
{
    private BatchPrefetcher<TSample>? _prefetcher;

    /// <summary>Step <paramref name="step"/>'s examples, made for the loop's <paramref name="indices"/>.</summary>
    public TSample[] Take(int step, int[] indices)
    {
        // No workers: the training thread makes the step's examples now, the same ones the workers would.
        if (workers == 0) return indices.Select((index, position) => make(step, position, index)).ToArray();
        if (_prefetcher == null || _prefetcher.NextStep != step)
        {
            _prefetcher?.Dispose();
            _prefetcher = null;   // a failed start leaves none behind
            _prefetcher = new BatchPrefetcher<TSample>(plan.Indices, make, workers, prefetch, step, plan.TotalSteps);
        }
        var (made, samples) = _prefetcher.Take(step);
        if (!made.AsSpan().SequenceEqual(indices))
            throw new InvalidOperationException($"Step {step} trains on examples [{string.Join(", ", indices)}] but the data workers made [{string.Join(", ", made)}]: the loop and the data plan disagree.");
        return samples;
    }

    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose()
    {
        _prefetcher?.Dispose();
        _prefetcher = null;
    }
}

/// <summary>What both streams decide and say the same way: whether decoded rows are kept, and a row's file failing.</summary>
internal static class StreamedSteps
{
    /// <summary>Whether a stream keeps its <paramref name="count"/> decoded rows (<paramref name="bytes"/> in all) in memory:
    /// when they fit <paramref name="budget"/> (<c>PixelCacheBytes</c>; 0: never). The choice goes to <paramref name="log"/>,
    /// "<paramref name="what"/>: …", counting <paramref name="items"/>.</summary>
    public static bool KeepsDecoded(string what, string items, int count, long bytes, long budget, int workers, int prefetch, IHostEnvironment? log, string logSource)
    {
        double mb = bytes / 1048576.0, budgetMb = budget / 1048576.0;
        string makers = workers == 0 ? "on the training thread as each step needs them" : $"by {workers} data worker(s), {prefetch} batch(es) prefetched";
        bool keep = budget > 0 && bytes <= budget;
        log.Info(logSource, keep
            ? $"{what}: decoded once {makers} and kept in memory at their own size ({count} {items}, {mb:F1} MB of the {budgetMb:F0} MB PixelCacheBytes budget)."
            : $"{what}: streamed from the files {makers}; not kept in memory ({count} {items} would take {mb:F1} MB decoded, over the {budgetMb:F0} MB PixelCacheBytes budget).");
        return keep;
    }

    /// <summary>Whether a set read on demand (a validation set: <c>DecodeOnDemand</c>) keeps its <paramref name="count"/>
    /// decoded rows (<paramref name="bytes"/> in all, <paramref name="kept"/> says at what size) after their first read:
    /// when they fit <paramref name="budget"/> (<c>PixelCacheBytes</c>; 0: never). The choice goes to <paramref name="log"/>.</summary>
    public static bool KeepsOnDemand(string dataName, string items, string kept, int count, long bytes, long budget, int threads, IHostEnvironment? log, string logSource)
    {
        double mb = bytes / 1048576.0, budgetMb = budget / 1048576.0;
        bool keep = budget > 0 && bytes <= budget;
        log.Info(logSource, keep
            ? $"The {dataName}: decoded from the files when first read and kept {kept} ({count} {items}, {mb:F1} MB of the {budgetMb:F0} MB PixelCacheBytes budget)."
            : $"The {dataName}: decoded from the files each time it is read, on {threads} thread(s); not kept ({count} {items} would take {mb:F1} MB {kept}, over the {budgetMb:F0} MB PixelCacheBytes budget).");
        return keep;
    }

    /// <summary>The threads a set read on demand decodes a batch on: <paramref name="threads"/>, or the core count for 0.</summary>
    public static int DecodeThreads(int threads) => threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary><paramref name="read"/> of row <paramref name="row"/>'s file (<paramref name="what"/>: "image 'path'"); a
    /// failure names the row and the file: it changed since <c>Fit</c> checked it, or its compressed pixels are damaged
    /// where <c>Fit</c>'s check of a streamed detection set (<see cref="MLNetExtensions.Data.ImageFileIntegrity"/>: the
    /// file's structure, not a decode) does not look.</summary>
    public static T ReadRow<T>(int row, string dataName, string what, Func<T> read)
    {
        try { return read(); }
        catch (Exception ex)
        {
            throw new InvalidDataException($"Row {row} of the {dataName}: {what} cannot be decoded while training ({ex.GetType().Name}: {ex.Message}). " +
                "It passed the check when training started, so it changed since or its compressed pixels are damaged: " +
                "restore the file, or drop the row and train again.", ex);
        }
    }
}
