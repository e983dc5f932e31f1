using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// One training run of a DeepLab segmenter: data checked and loaded, the step loop (schedule, NaN guard, progress,
/// atomic checkpoints with resume, validation mIoU and early stopping), then export. Same structure as the
/// detector's run, sharing its pieces (<see cref="GuardedOptimizerStep"/>, <see cref="CheckpointStore"/>, ...).
/// </summary>
internal sealed class DeepLabTrainingRun
{
    private readonly MLContext _ml;
    private readonly IHostEnvironment? _log;
    private readonly DeepLabSegmenterOptions _o;
    private GuardedOptimizerStep? _guard;

    public DeepLabTrainingRun(MLContext ml, IHostEnvironment? log, DeepLabSegmenterOptions options)
    {
        _ml = ml;
        _log = log;
        _o = options;
    }

    public TrainingHistory History { get; } = new();

    /// <summary>Steps whose update was skipped because the gradient was not finite.</summary>
    public int SkippedSteps => _guard?.SkippedSteps ?? 0;

    /// <summary>The trained network (eval mode), for tests that look inside.</summary>
    public DeepLabNetwork? Network { get; private set; }

    /// <summary>Trains and returns the exported ONNX bytes.</summary>
    public byte[] Run(IDataView trainData)
    {
        var device = TorchRuntime.Resolve(_o.Device);
        if (_o.CpuThreads is int threads) torch.set_num_threads(threads);
        torch.manual_seed(_o.Seed);

        var input = new NetworkInput(_o.InputWidth, _o.InputHeight, _o.Grayscale);
        var train = SegmentationTrainingSet.Create(_ml, trainData, input, _o.ImagePathColumn, _o.MaskPathColumn, _o.ClassNames);
        if (_o.ClassWeights != null && _o.ClassWeights.Count != train.ClassNames.Length)
            throw new ArgumentException($"{nameof(_o.ClassWeights)} has {_o.ClassWeights.Count} values but the training masks have {train.ClassNames.Length} classes.");
        SegmentationTrainingSet? validation = null;
        if (_o.ValidationData != null)
            validation = SegmentationTrainingSet.Create(_ml, _o.ValidationData, input, _o.ImagePathColumn, _o.MaskPathColumn, train.ClassNames, "validation data");

        var network = Network = new DeepLabNetwork(SegmentationBackboneFactory.Create(_o, input.Channels), train.ClassNames.Length,
            _o.Normalization, _o.AtrousRates, _o.AsppChannels, _o.LowLevelChannels, _o.Dropout);
        if (_o.FreezeBackbone) network.Freeze(_o.FreezeBackboneUpTo);
        network.to(device);
        var loss = new SegmentationLoss(_o.Loss, _o.DiceWeight, _o.ClassWeights);
        var trainable = network.parameters().Where(p => p.requires_grad).ToList();
        var optimizer = Optimizers.Create(trainable, _o.Optimizer, _o.LearningRate, _o.Momentum, _o.WeightDecay);

        int stepsPerEpoch = Math.Max(1, (train.Count + _o.BatchSize - 1) / _o.BatchSize);
        int totalSteps = _o.MaxSteps ?? _o.Epochs * stepsPerEpoch;
        var schedule = new LearningRateSchedule(_o.LearningRate, totalSteps, Math.Min(_o.WarmupSteps, totalSteps), _o.LearningRateDecay);
        var checkpoints = _o.CheckpointFolder == null ? null : new CheckpointStore(_o.CheckpointFolder);
        string fingerprint = _o.Fingerprint(train.ClassNames);

        int step = 0;
        double? best = null;
        int sinceBest = 0;
        string? lastCheckpoint = null;
        byte[]? bestModel = null;
        if (checkpoints?.TryLoadLatest(network, optimizer, fingerprint) is { } state)
        {
            step = state.Step;
            best = state.BestMetric;
            if (best != null && _o.ReturnBestValidatedModel) bestModel = checkpoints.TryLoadBest();
            sinceBest = state.EpochsWithoutImprovement;
            History.Restore(state.Losses, state.Validation);
            lastCheckpoint = checkpoints.Folder;
            _log.Info(nameof(DeepLabSegmenterEstimator), $"Resuming from the checkpoint at step {step} in '{checkpoints.Folder}'.");
        }

        network.train();
        var guard = _guard = new GuardedOptimizerStep(optimizer, trainable, _o.GradientClipNorm);
        var clock = Stopwatch.StartNew();
        bool stoppedEarly = false;
        while (step < totalSteps && !stoppedEarly)
        {
            int epoch = step / stepsPerEpoch, position = step % stepsPerEpoch;
            var order = GuardedOptimizerStep.Permutation(train.Count, _o.Seed + epoch);
            var indices = Enumerable.Range(position * _o.BatchSize, _o.BatchSize).Select(i => order[i % train.Count]).ToArray();
            var rng = new Random(unchecked(_o.Seed * 1_000_003 + step));   // a pure function of (seed, step): resume repeats it
            double rate = schedule.At(step);
            Optimizers.SetLearningRate(optimizer, rate);

            var started = clock.Elapsed;
            double ce, dice, total;
            using (var scope = NewDisposeScope())
            {
                var (images, targets) = train.Batch(indices, _o.Augmentation, rng, device);
                var parts = loss.Compute(network.call(images), targets);
                ce = parts.CrossEntropy.item<float>();
                dice = parts.Dice.item<float>();
                total = parts.Total.item<float>();
                if (!double.IsFinite(total))
                    throw new TrainingDivergedException($"The loss became {total} at step {step + 1} (cross-entropy {ce}, Dice {dice}). " + GuardedOptimizerStep.ResumeHint(lastCheckpoint));
                optimizer.zero_grad();
                parts.Total.backward();
                guard.Apply(step, lastCheckpoint);
            }
            step++;
            double seconds = (clock.Elapsed - started).TotalSeconds;

            double? validationIoU = null;
            bool epochEnd = step % stepsPerEpoch == 0 || step == totalSteps;
            if (epochEnd && validation != null && ((epoch + 1) % _o.ValidateEveryEpochs == 0 || step == totalSteps))
            {
                validationIoU = MeanIoU(network, validation, device);
                History.Validation.Add((epoch, validationIoU.Value));
                if (best is null || validationIoU > best)
                {
                    best = validationIoU; sinceBest = 0;
                    if (_o.ReturnBestValidatedModel)
                    {
                        bestModel = ExportBytes(network, train.ClassNames, input);
                        checkpoints?.SaveBest(bestModel);
                    }
                }
                else if (_o.EarlyStoppingPatience is int patience && ++sinceBest >= patience)
                {
                    _log.Info(nameof(DeepLabSegmenterEstimator), $"Early stopping at epoch {epoch}: validation mIoU has not improved on {best:F4} for {sinceBest} validations.");
                    stoppedEarly = true;
                }
                network.train();
            }

            var progress = new TrainingProgress(epoch, step, totalSteps,
                new Dictionary<string, double> { ["cross_entropy"] = ce, ["dice"] = dice, ["total"] = total },
                rate, indices.Length / Math.Max(seconds, 1e-9), validationIoU);
            History.Add(progress);
            _o.Progress?.Report(progress);
            if (step % 50 == 0 || epochEnd) _log.Info(nameof(DeepLabSegmenterEstimator), progress.ToString());

            if (checkpoints != null && (step % _o.CheckpointEverySteps == 0 || step == totalSteps || stoppedEarly))
                lastCheckpoint = checkpoints.Save(network, optimizer, new CheckpointState(step, epoch, fingerprint,
                    History.Losses.ToDictionary(kv => kv.Key, kv => kv.Value.ToList()),
                    History.Validation.Select(v => new double[] { v.Epoch, v.Metric }).ToList(), best, sinceBest));
        }
        var result = bestModel ?? ExportBytes(network, train.ClassNames, input);
        network.eval();
        return result;
    }

    private byte[] ExportBytes(DeepLabNetwork network, string[] classNames, NetworkInput input)
    {
        network.eval();
        var metadata = new OnnxModelMetadata(OnnxModelKind.Segmentation, classNames, input.Channels, input.Height, input.Width,
            extra: new Dictionary<string, string>
            {
                ["architecture"] = "DeepLabV3Plus",
                ["backbone"] = _o.Backbone.ToString(),
                ["output_stride"] = _o.OutputStride.ToString(CultureInfo.InvariantCulture),
                ["normalization"] = _o.Normalization.ToString(),
            });
        return network.ExportGraph(input, metadata).ToBytes();
    }

    /// <summary>mIoU over the dataset's pixels at the network's input size (255 skipped), through the evaluator's metrics.</summary>
    private double MeanIoU(DeepLabNetwork network, SegmentationTrainingSet data, Device device)
    {
        network.eval();
        int k = data.ClassNames.Length, pixels = data.Input.Width * data.Input.Height;
        var confusion = new long[k, k];
        for (int start = 0; start < data.Count; start += _o.BatchSize)
        {
            var idx = Enumerable.Range(start, Math.Min(_o.BatchSize, data.Count - start)).ToArray();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (images, _) = data.Batch(idx, null, new Random(0), device);
            var predicted = network.call(images).argmax(1).to(ScalarType.Byte).cpu().data<byte>().ToArray();   // (B·H·W)
            for (int j = 0; j < idx.Length; j++)
            {
                var truth = data.Mask(idx[j]);
                for (int p = 0; p < pixels; p++)
                    if (truth[p] != SegmentationColumns.IgnoreIndex) confusion[truth[p], predicted[j * pixels + p]]++;
            }
        }
        var iou = new SegmentationMetrics(data.ClassNames, confusion, data.Count).MeanIoU;
        return double.IsFinite(iou) ? iou : 0;
    }
}
