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

    /// <summary>Who makes the batches, for the log: "by 2 data worker(s), 2 batch(es) prefetched" or "on the training thread".</summary>
    public static string Makers(int workers, int prefetch)
        => workers == 0 ? "on the training thread as each step needs them" : $"by {workers} data worker(s), {prefetch} batch(es) prefetched";

    /// <summary><paramref name="read"/> of row <paramref name="row"/>'s file (<paramref name="what"/>: "image 'path'"); a
    /// failure names the row and the file: it was readable when <c>Fit</c> checked it, so it changed since.</summary>
    public static T ReadRow<T>(int row, string dataName, string what, Func<T> read)
    {
        try { return read(); }
        catch (Exception ex)
        {
            throw new InvalidDataException($"Row {row} of the {dataName}: {what} cannot be decoded while training ({ex.GetType().Name}: {ex.Message}). " +
                "It was readable when training started: restore the file, or drop the row and train again.", ex);
        }
    }
}
