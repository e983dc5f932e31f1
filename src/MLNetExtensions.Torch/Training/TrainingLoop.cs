using System.Diagnostics;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>What a finished <see cref="TrainingLoop.Run{TModel}"/> gives: the exported model and the trained network.</summary>
/// <param name="Onnx">The exported model: the best validated one, or the last (averaged) weights.</param>
/// <param name="Model">The live model, in eval mode; the caller disposes it (the loop has disposed the optimizer and the
/// weights' average).</param>
internal sealed record TrainingResult<TModel>(byte[] Onnx, TModel Model);

/// <summary>
/// The one training loop every model family plugs into (detectron2's <c>TrainerBase</c>): resume from the latest
/// checkpoint, per-step learning-rate schedule, the loss's named parts and NaN guard, clipped optimizer step, the
/// weights' moving average, progress, validation with early stopping and the best validated model kept beside the
/// checkpoints, atomic checkpoints. The family's part is an <see cref="ITrainingTask{TModel}"/>.
/// </summary>
/// <remarks>
/// Every random choice is a pure function of (seed, step) (<see cref="TrainingPlan"/>): the epoch's order comes from
/// seed + epoch and a batch's augmentation from seed and step, so a resumed run repeats the steps an uninterrupted one takes.
/// </remarks>
internal sealed class TrainingLoop
{
    private readonly TrainerOptions _o;
    private readonly IHostEnvironment? _log;
    private readonly Device _device;

    /// <summary>Resolves the device and seeds libtorch: make the loop before the task builds anything. libtorch's thread
    /// count (<see cref="TrainerOptions.CpuThreads"/>) is set by <see cref="Run{TModel}"/>, for the run only.</summary>
    public TrainingLoop(TrainerOptions options, IHostEnvironment? log)
    {
        _o = options;
        _log = log;
        _device = TorchRuntime.Resolve(options.Device);
        torch.manual_seed(options.Seed);
    }

    public TrainingHistory History { get; } = new();

    public TrainingResult<TModel> Run<TModel>(ITrainingTask<TModel> task) where TModel : ITrainableModel
    {
        // libtorch's thread count is process-wide, so CpuThreads holds from here to the end of the run, failed or not, and
        // a later Fit without it (or other libtorch work in the process) gets the count it had. Set here rather than when
        // the loop is made, because a task that fails while it is built (bad input) never reaches the run.
        int? threadsBefore = null;
        if (_o.CpuThreads is int threads)
        {
            threadsBefore = torch.get_num_threads();
            torch.set_num_threads(threads);
        }
        try { return RunOnce(task); }
        catch (Exception ex) when (IsFinalizedScalarError(ex))
        {
            // dotnet/TorchSharp#1434: once per run, start over in this process; the fresh attempt resumes from the last
            // checkpoint (or, with none, from step 0 with the seed re-applied) and repeats the steps an uninterrupted run takes.
            _log.Warning(task.LogSource, $"libtorch failed mid-run ({FirstLine(ex)}): a temporary TorchSharp Scalar was freed by the " +
                "finalizer while a native operation read it (dotnet/TorchSharp#1434). " + (_o.EnableCheckpoints
                    ? "Resuming from the last checkpoint (step 0 when there is none yet)."
                    : "Checkpoints are off, so training starts again from step 0."));
            Recoveries++;
            torch.manual_seed(_o.Seed);
            return RunOnce(task);
        }
        finally
        {
            if (threadsBefore is int before) torch.set_num_threads(before);
        }
    }

    /// <summary>How many times this loop's <see cref="Run{TModel}"/> recovered from the libtorch error of dotnet/TorchSharp#1434
    /// (at most once per run: a second occurrence propagates).</summary>
    public int Recoveries { get; private set; }

    /// <summary>The libtorch errors a finalized temporary Scalar causes (dotnet/TorchSharp#1434): a check that fails inside
    /// <c>c10/core/Scalar.h</c> reading the freed Scalar, "Expected false to be true, but got false" from <c>toFloat</c> or
    /// "Unknown scalar type" from <c>type</c> (both seen under the <c>scalar-stress</c> bench). No valid call fails there.</summary>
    internal static bool IsFinalizedScalarError(Exception ex)
        => ex is System.Runtime.InteropServices.ExternalException
           && ex.Message.Contains("/c10/core/Scalar.h:", StringComparison.Ordinal);

    private static string FirstLine(Exception ex) => ex.Message.Split('\n')[0].Trim();

    private TrainingResult<TModel> RunOnce<TModel>(ITrainingTask<TModel> task) where TModel : ITrainableModel
    {
        var model = task.CreateModel(_device);
        var network = model.Network;
        // With ModelEmaDecay, a second model holds the weights' moving average; it is the one validated and exported.
        TModel? averaged = default;
        ExponentialMovingAverage? ema = null;
        optim.Optimizer? optimizer = null;
        try
        {
            if (_o.ModelEmaDecay is double decay)
            {
                averaged = task.CreateModel(_device);
                ema = new ExponentialMovingAverage(network, averaged.Network, decay);
            }
            var trainable = network.parameters().Where(p => p.requires_grad).ToList();
            optimizer = Optimizers.Create(trainable, _o.Optimizer, _o.LearningRate, _o.Momentum, _o.WeightDecay);
            return new TrainingResult<TModel>(Train(task, model, averaged, ema, optimizer, trainable), model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            // Nothing of the run but the returned network outlives it: the optimizer's state and the average's copy are freed now, not by the finalizer.
            optimizer?.Dispose();
            averaged?.Dispose();
        }
    }

    private byte[] Train<TModel>(ITrainingTask<TModel> task, TModel model, TModel? averaged, ExponentialMovingAverage? ema,
        optim.Optimizer optimizer, List<Parameter> trainable) where TModel : ITrainableModel
    {
        var network = model.Network;
        var kept = averaged ?? model;

        var plan = TrainingPlan.For(_o, task.Count);
        int stepsPerEpoch = plan.StepsPerEpoch, totalSteps = plan.TotalSteps;
        var schedule = new LearningRateSchedule(_o.LearningRate, totalSteps, Math.Min(_o.WarmupSteps, totalSteps), _o.LearningRateDecay);
        string fingerprint = CheckpointFingerprint.Compose(task.Fingerprint, _o.RunFingerprint(totalSteps).Concat(task.FingerprintSettings));
        bool defaultFolder = _o.EnableCheckpoints && _o.CheckpointFolder == null;
        var checkpoints = !_o.EnableCheckpoints ? null
            : new CheckpointStore(_o.CheckpointFolder ?? TrainerOptions.DefaultCheckpointFolder(task.LogSource, fingerprint));
        // Up front, not at the first save: a folder that cannot be written or a full disk fails before any step.
        checkpoints?.EnsureWritable(CheckpointBytes(network, averaged?.Network, _o.Optimizer));

        int step = 0;
        double? best = null;
        int sinceBest = 0;
        string? lastCheckpoint = null;
        byte[]? bestModel = null;
        if (checkpoints?.TryLoadLatest(network, optimizer, fingerprint, averaged?.Network, m => _log.Warning(task.LogSource, m)) is { } state)
        {
            step = state.Step;
            best = state.BestMetric;
            if (best != null && _o.ReturnBestValidatedModel) bestModel = checkpoints.TryLoadBest();
            sinceBest = state.EpochsWithoutImprovement;
            History.Restore(state.Losses, state.Validation);
            lastCheckpoint = checkpoints.Folder;
            _log.Info(task.LogSource, $"Resuming from the checkpoint at step {step} in '{checkpoints.Folder}'.");
        }
        else History.Restore(new(), new());   // a run started over after a failure keeps nothing of the failed attempt

        network.train();
        var guard = new GuardedOptimizerStep(optimizer, trainable, _o.GradientClipNorm, defaultFolder);
        var clock = Stopwatch.StartNew();
        bool stoppedEarly = false;
        while (step < totalSteps && !stoppedEarly)
        {
            int epoch = step / stepsPerEpoch;
            var indices = plan.Indices(step);
            var rng = plan.StepRandom(step);   // a pure function of (seed, step): resume repeats it
            double rate = schedule.At(step);
            Optimizers.SetLearningRate(optimizer, rate);

            var started = clock.Elapsed;
            Dictionary<string, double> reported;
            using (var scope = NewDisposeScope())
            {
                var loss = task.Loss(model, step, indices, rng, _device);
                reported = Report(loss);
                double total = reported["total"];
                if (!double.IsFinite(total))
                {
                    var parts = loss.Parts.Select(p => (p.Name, Value: reported[p.Name])).ToList();
                    double bad = parts.Select(p => p.Value).FirstOrDefault(v => !double.IsFinite(v), total);
                    throw new TrainingDivergedException($"The loss became {bad} at step {step + 1} ({string.Join(", ", parts.Select(p => $"{p.Name} {p.Value}"))}). " +
                        GuardedOptimizerStep.ResumeHint(lastCheckpoint == null ? null : checkpoints!.Folder, defaultFolder));
                }
                optimizer.zero_grad();
                loss.Total.backward();
                guard.Apply(step, lastCheckpoint == null ? null : checkpoints!.Folder);
                ema?.Update(step);
            }
            step++;
            double seconds = (clock.Elapsed - started).TotalSeconds;

            double? metric = null;
            bool epochEnd = step % stepsPerEpoch == 0 || step == totalSteps;
            if (epochEnd && task.HasValidation && ((epoch + 1) % _o.ValidateEveryEpochs == 0 || step == totalSteps))
            {
                metric = task.Validate(kept, _device);
                History.Validation.Add((epoch, metric.Value));
                if (best is null || metric > best)
                {
                    best = metric; sinceBest = 0;
                    if (_o.ReturnBestValidatedModel)
                    {
                        bestModel = task.Export(kept);
                        checkpoints?.SaveBest(bestModel);
                    }
                }
                else if (_o.EarlyStoppingPatience is int patience && ++sinceBest >= patience)
                {
                    _log.Info(task.LogSource, $"Early stopping at epoch {epoch}: {task.MetricName} has not improved on {best:F4} for {sinceBest} validations.");
                    stoppedEarly = true;
                }
                network.train();
            }

            var progress = new TrainingProgress(epoch, step, totalSteps, reported, rate, indices.Length / Math.Max(seconds, 1e-9), metric);
            History.Add(progress);
            _o.Progress?.Report(progress);
            if (step % 50 == 0 || epochEnd) _log.Info(task.LogSource, progress.ToString());

            if (checkpoints != null && (step % _o.CheckpointEverySteps == 0 || step == totalSteps || stoppedEarly))
                lastCheckpoint = checkpoints.Save(network, optimizer, new CheckpointState(step, epoch, fingerprint,
                    History.Losses.ToDictionary(kv => kv.Key, kv => kv.Value.ToList()),
                    History.Validation.Select(v => new double[] { v.Epoch, v.Metric }).ToList(), best, sinceBest), averaged?.Network);
        }
        var onnx = bestModel ?? task.Export(kept);
        network.eval();
        // The default folder is for crash recovery only: a finished run leaves nothing behind in the user's data folder.
        if (defaultFolder && checkpoints != null) checkpoints.Delete();
        return onnx;
    }

    /// <summary>About how many bytes one checkpoint takes: the network's state, the optimizer's (two moments for Adam,
    /// a momentum buffer otherwise) and the average's; a quarter more for the files' own overhead.</summary>
    private static long CheckpointBytes(nn.Module network, nn.Module? average, Detection.OptimizerKind optimizer)
    {
        long state = network.state_dict().Values.Sum(t => t.NumberOfElements * t.ElementSize);
        long copies = 1 + (optimizer == Detection.OptimizerKind.Adam ? 2 : 1) + (average != null ? 1 : 0);
        return state * copies * 5 / 4 + 64 * 1024;
    }

    /// <summary>The step's parts, then "total", then the figures, read from the device in one copy.</summary>
    private static Dictionary<string, double> Report(TrainingLoss loss)
    {
        var named = loss.Parts.Append(("total", loss.Total)).Concat(loss.Figures ?? []).ToList();
        float[] values;
        using (no_grad())
            values = stack(named.Select(n => n.Item2.detach().reshape(1).to(ScalarType.Float32)).ToArray()).cpu().data<float>().ToArray();
        var reported = new Dictionary<string, double>(named.Count);
        for (int i = 0; i < named.Count; i++) reported[named[i].Item1] = values[i];
        return reported;
    }
}
