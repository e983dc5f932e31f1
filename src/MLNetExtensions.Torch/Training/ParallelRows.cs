using System.Runtime.ExceptionServices;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Rows of a training set read on several threads, with the results and the errors one thread reading them in row
/// order would give: the row checks of <c>Fit</c> and the batches of a set read on demand.
/// </summary>
internal static class ParallelRows
{
    /// <summary>Reads rows 0 to <paramref name="count"/> − 1 with <paramref name="read"/> on up to <paramref name="threads"/>
    /// threads (0: the core count), <paramref name="chunkPerThread"/> rows a thread at a time (a chunk's results are held
    /// until taken), and hands each result to <paramref name="take"/> in row order. The lowest row whose read or take
    /// throws ends it with that exception, as reading the rows one after another would, whatever the threads.</summary>
    public static void InRowOrder<T>(int count, int threads, int chunkPerThread, Func<int, T> read, Action<int, T> take)
    {
        threads = Math.Max(1, Math.Min(StreamedSteps.DecodeThreads(threads), count));
        int chunk = threads * chunkPerThread;
        var results = new T[chunk];
        var errors = new Exception?[chunk];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        for (int first = 0; first < count; first += chunk)
        {
            int rows = Math.Min(chunk, count - first);
            Array.Clear(errors);
            Parallel.For(0, rows, parallel, k =>
            {
                try { results[k] = read(first + k); }
                catch (Exception ex) { errors[k] = ex; }   // thrown in row order below
            });
            for (int k = 0; k < rows; k++)
            {
                if (errors[k] is { } error) ExceptionDispatchInfo.Throw(error);
                var result = results[k];
                results[k] = default!;   // not held past its take
                take(first + k, result);
            }
        }
    }

    /// <summary><paramref name="read"/> of each of <paramref name="indices"/> on up to <paramref name="threads"/> threads, in
    /// their order; a failure is thrown as the row's own exception, not wrapped.</summary>
    public static T[] Read<T>(IReadOnlyList<int> indices, int threads, Func<int, T> read)
    {
        var results = new T[indices.Count];
        try { Parallel.For(0, indices.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, b => results[b] = read(indices[b])); }
        catch (AggregateException ex) { ExceptionDispatchInfo.Throw(ex.InnerExceptions[0]); }   // the row's own message
        return results;
    }
}
