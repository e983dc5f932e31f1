namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Which examples every step of a run trains on and the seeds of its random choices, all pure functions of (seed, step):
/// the epoch's order comes from seed + epoch, the step's own choices (the loss's sampling) from seed and step, and each
/// example's augmentation from seed, step and its position in the batch. <see cref="TrainingLoop"/> runs the steps; a
/// data loader (<see cref="BatchPrefetcher{TSample}"/>) makes upcoming steps' examples ahead of it from the same plan, so
/// neither the number of workers nor a resume changes what a step sees.
/// </summary>
internal sealed record TrainingPlan(int Count, int BatchSize, int Seed, int TotalSteps)
{
    /// <summary>The plan of a run of <paramref name="options"/> over <paramref name="count"/> examples.</summary>
    public static TrainingPlan For(TrainerOptions options, int count)
    {
        int stepsPerEpoch = Math.Max(1, (count + options.BatchSize - 1) / options.BatchSize);
        return new TrainingPlan(count, options.BatchSize, options.Seed, options.MaxSteps ?? options.Epochs * stepsPerEpoch);
    }

    /// <summary>Steps per pass over the examples: <c>ceil(Count / BatchSize)</c>.</summary>
    public int StepsPerEpoch => Math.Max(1, (Count + BatchSize - 1) / BatchSize);

    /// <summary>The examples step <paramref name="step"/> trains on: the next <see cref="BatchSize"/> of its epoch's order,
    /// wrapping around at the end.</summary>
    public int[] Indices(int step)
    {
        int epoch = step / StepsPerEpoch, position = step % StepsPerEpoch;
        var order = GuardedOptimizerStep.Permutation(Count, Seed + epoch);
        return Enumerable.Range(position * BatchSize, BatchSize).Select(i => order[i % Count]).ToArray();
    }

    /// <summary>The generator of step <paramref name="step"/>'s own random choices (the loss's sampling).</summary>
    public Random StepRandom(int step) => new(unchecked(Seed * 1_000_003 + step));

    /// <summary>Which of <paramref name="count"/> choices step <paramref name="step"/> takes for its whole batch (a
    /// multi-scale run's input size): from seed and step only, apart from every other draw of the step.</summary>
    public int BatchChoice(int step, int count) => count == 1 ? 0 : SampleRandom(step, -1).Next(count);

    /// <summary>The generator of the augmentation of the example at <paramref name="position"/> in step
    /// <paramref name="step"/>'s batch: independent of which thread makes it and when.</summary>
    public Random SampleRandom(int step, int position)
    {
        // SplitMix64's finalizer over the three numbers, so neighbouring steps and positions get unrelated seeds.
        ulong z = unchecked(((ulong)(uint)Seed << 32 | (uint)step) * 0x9E3779B97F4A7C15UL + (ulong)(uint)position * 0xBF58476D1CE4E5B9UL + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random(unchecked((int)z ^ (int)(z >> 32)));
    }
}
