namespace MLNetExtensions.Torch.Training;

/// <summary>One report of a training run, sent to <see cref="IProgress{T}"/> after every step.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Step">1-based steps done so far.</param>
/// <param name="TotalSteps">Steps the run will make.</param>
/// <param name="Losses">This step's loss parts by name (e.g. "classification", "localization", "total").</param>
/// <param name="LearningRate">Rate used for this step.</param>
/// <param name="ImagesPerSecond">Throughput of this step, data loading included.</param>
/// <param name="ValidationMetric">Validation metric (mAP or mIoU) when this step ended an epoch that was validated.</param>
public sealed record TrainingProgress(int Epoch, int Step, int TotalSteps, IReadOnlyDictionary<string, double> Losses,
    double LearningRate, double ImagesPerSecond, double? ValidationMetric = null)
{
    public override string ToString()
        => $"epoch {Epoch} step {Step}/{TotalSteps} " + string.Join(" ", Losses.Select(kv => $"{kv.Key}={kv.Value:F4}"))
           + $" lr={LearningRate:G3} {ImagesPerSecond:F1} img/s" + (ValidationMetric is double v ? $" val={v:F4}" : "");
}

/// <summary>What a finished run learned, step by step: the loss parts per step and the validation metric per epoch.</summary>
public sealed class TrainingHistory
{
    private readonly Dictionary<string, List<double>> _losses = new();

    /// <summary>Loss part name → value at each step (index = step - 1).</summary>
    public IReadOnlyDictionary<string, List<double>> Losses => _losses;

    /// <summary>(epoch, metric) for each validated epoch.</summary>
    public List<(int Epoch, double Metric)> Validation { get; } = new();

    internal void Restore(Dictionary<string, List<double>> losses, List<double[]> validation)
    {
        _losses.Clear();
        foreach (var (k, v) in losses) _losses[k] = v.ToList();
        Validation.Clear();
        Validation.AddRange(validation.Select(v => ((int)v[0], v[1])));
    }

    internal void Add(TrainingProgress p)
    {
        foreach (var (k, v) in p.Losses)
        {
            if (!_losses.TryGetValue(k, out var list)) _losses[k] = list = new List<double>();
            list.Add(v);
        }
    }

    /// <summary>Mean of a loss part over the first or last <paramref name="count"/> steps.</summary>
    public double Mean(string loss, int count, bool last)
    {
        var l = _losses[loss];
        count = Math.Min(count, l.Count);
        return (last ? l.Skip(l.Count - count) : l.Take(count)).Average();
    }
}
