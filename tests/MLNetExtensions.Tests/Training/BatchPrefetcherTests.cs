using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// <see cref="BatchPrefetcher{TSample}"/> on plain numbers: the workers stay at most <c>prefetch</c> batches ahead of the
/// training thread, any worker count hands out the same batches, a worker's exception reaches the training thread at
/// the step it failed on (the earlier steps still come), and no worker thread outlives the prefetcher.
/// </summary>
[TestClass]
public sealed class BatchPrefetcherTests
{
    private static readonly TrainingPlan Plan = new(Count: 10, BatchSize: 4, Seed: 3, TotalSteps: 40);

    /// <summary>A sample that depends on its (step, position, index) and on its generator only.</summary>
    private static long SampleOf(int step, int position, int index) => index * 1_000_000L + Plan.SampleRandom(step, position).Next(1_000_000);

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void WorkersStayAtMostPrefetchBatchesAhead()
    {
        int highestStep = -1;
        var made = new object();
        long Make(int step, int position, int index)
        {
            lock (made) highestStep = Math.Max(highestStep, step);
            return SampleOf(step, position, index);
        }
        using (var prefetcher = new BatchPrefetcher<long>(Plan.Indices, Make, workers: 3, prefetch: 2, startStep: 0, endStep: Plan.TotalSteps))
        {
            for (int step = 0; step < 6; step++)
            {
                prefetcher.Take(step);
                Thread.Sleep(200);   // a slow training step: the workers catch up and must then wait
                lock (made) Assert.AreEqual(step + 2, highestStep, $"after taking step {step} the workers make steps {step + 1} and {step + 2} and no further");
            }
            Assert.AreEqual(2, prefetcher.MostReadyAhead, "two batches waited ready, never more");
        }
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers, "Dispose joins every worker");
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    public void AnyWorkerCountHandsOutTheSameBatches(int workers)
    {
        using var prefetcher = new BatchPrefetcher<long>(Plan.Indices, SampleOf, workers, prefetch: 2, startStep: 5, endStep: Plan.TotalSteps);
        for (int step = 5; step < 15; step++)
        {
            var (indices, samples) = prefetcher.Take(step);
            CollectionAssert.AreEqual(Plan.Indices(step), indices, $"step {step}'s examples");
            CollectionAssert.AreEqual(Enumerable.Range(0, 4).Select(p => SampleOf(step, p, indices[p])).ToArray(), samples, $"step {step}'s samples, in batch order");
        }
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => prefetcher.Take(20));
        StringAssert.StartsWith(ex.Message, "The data workers were asked for step 20 but make step 15 next");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void AWorkersExceptionReachesTheTrainingThreadAtItsStep()
    {
        var failure = new InvalidDataException("row 7 is gone");
        long Make(int step, int position, int index)
        {
            if (step == 4 && position == 2) throw failure;
            Thread.Sleep(5);
            return SampleOf(step, position, index);
        }
        using (var prefetcher = new BatchPrefetcher<long>(Plan.Indices, Make, workers: 3, prefetch: 3, startStep: 0, endStep: Plan.TotalSteps))
        {
            for (int step = 0; step < 4; step++) prefetcher.Take(step);   // the steps before the failure still come
            var thrown = Assert.ThrowsExactly<InvalidDataException>(() => prefetcher.Take(4));
            Assert.AreSame(failure, thrown, "the worker's exception itself, not a wrapper");
        }
        Assert.AreEqual(0, BatchPrefetcher.LiveWorkers, "no worker is left after the failure and Dispose");
    }
}
