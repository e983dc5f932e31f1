using System.Runtime.ExceptionServices;

namespace MLNetExtensions.Torch.Training;

/// <summary>What all <see cref="BatchPrefetcher{TSample}"/>s share: the count of their live worker threads.</summary>
internal static class BatchPrefetcher
{
    private static int s_liveWorkers;

    /// <summary>Worker threads of every prefetcher in the process that have not ended yet.</summary>
    public static int LiveWorkers => Volatile.Read(ref s_liveWorkers);

    internal static void Started() => Interlocked.Increment(ref s_liveWorkers);

    internal static void Ended() => Interlocked.Decrement(ref s_liveWorkers);

    private static long s_takeTicks;

    /// <summary>Seconds the training threads of every prefetcher in the process have spent in <c>Take</c>, waiting for
    /// their batch to be made (the data-wait share of a step, which the <c>data-pipeline</c> bench reports).</summary>
    public static double TakeSeconds => Interlocked.Read(ref s_takeTicks) / (double)System.Diagnostics.Stopwatch.Frequency;

    internal static void Took(long startTimestamp) => Interlocked.Add(ref s_takeTicks, System.Diagnostics.Stopwatch.GetTimestamp() - startTimestamp);
}

/// <summary>
/// Worker threads that make the examples of upcoming steps ahead of the training thread (PyTorch's <c>DataLoader</c>
/// with <c>num_workers</c> and <c>prefetch_factor</c>): the work is one item per (step, position in the batch), handed
/// out in step order, for the <c>prefetch</c> steps after the last one taken only, so at most <c>prefetch</c> batches
/// wait, made or in the making, while the training thread trains on one: memory is O(batch × prefetch) whatever the
/// dataset's size. What an item holds depends only on its (step, position)
/// (<see cref="TrainingPlan"/>), never on which worker made it or when, so any number of workers gives the same batches.
/// </summary>
/// <remarks>
/// The training thread calls <see cref="Take"/> for consecutive steps. A worker's exception ends the workers and is
/// rethrown, unchanged, by the <see cref="Take"/> of its step (earlier steps are still handed out). <see cref="Dispose"/>
/// stops and joins the workers.
/// </remarks>
internal sealed class BatchPrefetcher<TSample> : IDisposable
{
    /// <summary>(step, position in the batch, example index) → the example, made on a worker thread.</summary>
    public delegate TSample SampleMaker(int step, int position, int index);

    private readonly Func<int, int[]> _indices;
    private readonly SampleMaker _make;
    private readonly int _prefetch, _endStep;
    private readonly Thread[] _threads;
    private readonly object _gate = new();
    // Steps from _next on that have been handed out, each with its examples so far and how many are done.
    private readonly Dictionary<int, (int[] Indices, TSample[] Samples, int Done)> _pending = new();
    private int _next;                  // the step Take returns next
    private int _handStep, _handPosition;   // the next item to hand to a worker
    private int[]? _handIndices;
    private (int Step, ExceptionDispatchInfo Error)? _failure;
    private bool _stopping;

    /// <param name="indices">The examples of a step (<see cref="TrainingPlan.Indices"/>).</param>
    /// <param name="make">Makes one example; called concurrently from the workers.</param>
    /// <param name="workers">Worker threads, at least 1.</param>
    /// <param name="prefetch">Batches the workers may make ahead of the training thread, at least 1.</param>
    /// <param name="startStep">The first step <see cref="Take"/> returns.</param>
    /// <param name="endStep">The step after the last one to make.</param>
    public BatchPrefetcher(Func<int, int[]> indices, SampleMaker make, int workers, int prefetch, int startStep, int endStep)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefetch, 1);
        _indices = indices;
        _make = make;
        _prefetch = prefetch;
        _endStep = endStep;
        _next = _handStep = startStep;
        _threads = new Thread[workers];
        for (int k = 0; k < workers; k++)
        {
            _threads[k] = new Thread(Work) { IsBackground = true, Name = $"MLNetExtensions data worker {k + 1}/{workers}" };
            BatchPrefetcher.Started();
            _threads[k].Start();
        }
    }

    /// <summary>The step <see cref="Take"/> returns next.</summary>
    public int NextStep { get { lock (_gate) return _next; } }

    /// <summary>The most complete batches that ever waited to be taken (at most <c>prefetch</c>).</summary>
    public int MostReadyAhead { get; private set; }

    /// <summary>Step <paramref name="step"/>'s examples in batch order, with their example indices; blocks until they are
    /// made. Throws what a worker threw for this step or an earlier one.</summary>
    public (int[] Indices, TSample[] Samples) Take(int step)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try { return TakeWaiting(step); }
        finally { BatchPrefetcher.Took(start); }
    }

    private (int[] Indices, TSample[] Samples) TakeWaiting(int step)
    {
        lock (_gate)
        {
            if (step != _next)
                throw new InvalidOperationException($"The data workers were asked for step {step} but make step {_next} next; steps are taken in order.");
            if (step >= _endStep)
                throw new InvalidOperationException($"Step {step} is past the run's last step {_endStep - 1}.");
            while (true)
            {
                ObjectDisposedException.ThrowIf(_stopping, this);
                if (_failure is { } f && f.Step <= step) f.Error.Throw();
                if (_pending.TryGetValue(step, out var batch) && batch.Done == batch.Samples.Length)
                {
                    _pending.Remove(step);
                    _next++;
                    Monitor.PulseAll(_gate);   // room for one more step
                    return (batch.Indices, batch.Samples);
                }
                Monitor.Wait(_gate);
            }
        }
    }

    private void Work()
    {
        try
        {
            while (true)
            {
                int step, position, index;
                lock (_gate)
                {
                    while (!_stopping && _failure == null && _handStep < _endStep && _handStep >= _next + _prefetch)
                        Monitor.Wait(_gate);
                    if (_stopping || _failure != null || _handStep >= _endStep) return;
                    step = _handStep; position = _handPosition;
                    if (position == 0)
                    {
                        _handIndices = _indices(step);
                        _pending[step] = (_handIndices, new TSample[_handIndices.Length], 0);
                    }
                    index = _handIndices![position];
                    if (++_handPosition == _handIndices.Length) { _handStep++; _handPosition = 0; }
                }
                TSample sample;
                try { sample = _make(step, position, index); }
                catch (Exception ex)
                {
                    lock (_gate)
                    {
                        if (_failure == null || step < _failure.Value.Step) _failure = (step, ExceptionDispatchInfo.Capture(ex));
                        Monitor.PulseAll(_gate);
                    }
                    return;
                }
                lock (_gate)
                {
                    if (!_pending.TryGetValue(step, out var batch)) return;   // stopping
                    batch.Samples[position] = sample;
                    _pending[step] = batch with { Done = batch.Done + 1 };
                    if (batch.Done + 1 == batch.Samples.Length)
                    {
                        int ready = _pending.Count(p => p.Value.Done == p.Value.Samples.Length);
                        MostReadyAhead = Math.Max(MostReadyAhead, ready);
                        Monitor.PulseAll(_gate);
                    }
                }
            }
        }
        finally { BatchPrefetcher.Ended(); }
    }

    /// <summary>Stops the workers and waits for them to end (each finishes the example it is making).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            _pending.Clear();
            Monitor.PulseAll(_gate);
        }
        foreach (var t in _threads) t.Join();
    }
}
