using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// One training run of a detector: data checked and loaded, the step loop (learning-rate schedule, NaN guard,
/// progress, atomic checkpoints with resume, validation mAP and early stopping), then export.
/// </summary>
internal sealed class DetectorTrainingRun
{
    private readonly MLContext _ml;
    private readonly IHostEnvironment? _log;
    private readonly SsdDetectorOptions _o;

    public DetectorTrainingRun(MLContext ml, IHostEnvironment? log, SsdDetectorOptions options)
    {
        _ml = ml;
        _log = log;
        _o = options;
    }

    public TrainingHistory History { get; } = new();

    /// <summary>Steps whose update was skipped because the gradient was not finite.</summary>
    public int SkippedSteps => _guard?.SkippedSteps ?? 0;

    private GuardedOptimizerStep? _guard;

    /// <summary>Trains and returns the exported ONNX bytes.</summary>
    public byte[] Run(IDataView trainData)
    {
        var device = TorchRuntime.Resolve(_o.Device);
        if (_o.CpuThreads is int threads) torch.set_num_threads(threads);
        torch.manual_seed(_o.Seed);

        var input = new NetworkInput(_o.InputWidth, _o.InputHeight, _o.Grayscale);
        var train = DetectionTrainingSet.Create(_ml, trainData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn);
        DetectionTrainingSet? validation = null;
        if (_o.ValidationData != null)
        {
            validation = DetectionTrainingSet.Create(_ml, _o.ValidationData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn, "validation data");
            if (!validation.ClassNames.SequenceEqual(train.ClassNames))
                throw new ArgumentException($"The validation data's classes ({string.Join(", ", validation.ClassNames)}) differ from the training data's ({string.Join(", ", train.ClassNames)}). Read both with the same class list.");
        }

        var model = CreateModel(train.ClassNames.Length, device);
        var network = model.Network;
        // With ModelEmaDecay, a second network holds the weights' moving average; it is the one validated and exported.
        IDetectorModel? averaged = null;
        ExponentialMovingAverage? ema = null;
        if (_o.ModelEmaDecay is double decay)
        {
            averaged = CreateModel(train.ClassNames.Length, device);
            ema = new ExponentialMovingAverage(network, averaged.Network, decay);
        }
        var kept = averaged ?? model;
        var optimizer = Optimizers.Create(network.parameters(), _o.Optimizer, _o.LearningRate, _o.Momentum, _o.WeightDecay);

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
        if (checkpoints?.TryLoadLatest(network, optimizer, fingerprint, averaged?.Network) is { } state)
        {
            step = state.Step;
            best = state.BestMetric;
            if (best != null && _o.ReturnBestValidatedModel) bestModel = checkpoints.TryLoadBest();
            sinceBest = state.EpochsWithoutImprovement;
            History.Restore(state.Losses, state.Validation);
            lastCheckpoint = checkpoints.Folder;
            _log.Info(nameof(SsdDetectorEstimator), $"Resuming from the checkpoint at step {step} in '{checkpoints.Folder}'.");
        }

        network.train();
        
        var clock = Stopwatch.StartNew();
        bool stoppedEarly = false;
        var guard = _guard = new GuardedOptimizerStep(optimizer, network.parameters().ToList(), _o.GradientClipNorm);
        while (step < totalSteps && !stoppedEarly)
        {
            int epoch = step / stepsPerEpoch, position = step % stepsPerEpoch;
            var order = GuardedOptimizerStep.Permutation(train.Count, _o.Seed + epoch);
            var indices = Enumerable.Range(position * _o.BatchSize, _o.BatchSize).Select(i => order[i % train.Count]).ToArray();
            var rng = new Random(unchecked(_o.Seed * 1_000_003 + step));   // a pure function of (seed, step): resume repeats it
            double rate = schedule.At(step);
            Optimizers.SetLearningRate(optimizer, rate);

            var started = clock.Elapsed;
            double cls, loc;
            using (var scope = NewDisposeScope())
            {
                var (images, targets) = train.Batch(indices, _o.Augmentation, rng, device);
                var parts = model.Loss(images, targets);
                var total = parts.Classification + parts.Localization;
                cls = parts.Classification.item<float>();
                loc = parts.Localization.item<float>();
                if (!double.IsFinite(cls) || !double.IsFinite(loc))
                    throw new TrainingDivergedException($"The loss became {(double.IsFinite(cls) ? loc : cls)} at step {step + 1} (classification {cls}, localization {loc}). " +
                        GuardedOptimizerStep.ResumeHint(lastCheckpoint));
                optimizer.zero_grad();
                total.backward();
                guard.Apply(step, lastCheckpoint);
                ema?.Update(step);
            }
            step++;
            double seconds = (clock.Elapsed - started).TotalSeconds;

            double? validationMap = null;
            bool epochEnd = step % stepsPerEpoch == 0 || step == totalSteps;
            if (epochEnd && validation != null && ((epoch + 1) % _o.ValidateEveryEpochs == 0 || step == totalSteps))
            {
                validationMap = MeanAveragePrecision(kept, validation, device);
                History.Validation.Add((epoch, validationMap.Value));
                network.train();
                if (best is null || validationMap > best)
                {
                    best = validationMap; sinceBest = 0;
                    if (_o.ReturnBestValidatedModel)
                    {
                        bestModel = ExportBytes(kept, train.ClassNames, input);
                        checkpoints?.SaveBest(bestModel);
                        network.train();
                    }
                }
                else if (_o.EarlyStoppingPatience is int patience && ++sinceBest >= patience)
                {
                    _log.Info(nameof(SsdDetectorEstimator), $"Early stopping at epoch {epoch}: validation mAP@0.5 has not improved on {best:F4} for {sinceBest} validations.");
                    stoppedEarly = true;
                }
            }

            var progress = new TrainingProgress(epoch, step, totalSteps,
                new Dictionary<string, double> { ["classification"] = cls, ["localization"] = loc, ["total"] = cls + loc },
                rate, indices.Length / Math.Max(seconds, 1e-9), validationMap);
            History.Add(progress);
            _o.Progress?.Report(progress);
            if (step % 50 == 0 || epochEnd) _log.Info(nameof(SsdDetectorEstimator), progress.ToString());

            if (checkpoints != null && (step % _o.CheckpointEverySteps == 0 || step == totalSteps || stoppedEarly))
                lastCheckpoint = checkpoints.Save(network, optimizer, new CheckpointState(step, epoch, fingerprint,
                    History.Losses.ToDictionary(kv => kv.Key, kv => kv.Value.ToList()),
                    History.Validation.Select(v => new double[] { v.Epoch, v.Metric }).ToList(), best, sinceBest), averaged?.Network);
        }
        return bestModel ?? ExportBytes(kept, train.ClassNames, input);
    }

    private IDetectorModel CreateModel(int classes, Device device) => _o.Architecture == DetectorArchitecture.Grid
        ? new GridDetectorModel(_o, classes, device)
        : new SsdDetectorModel(_o, classes, device);

    private byte[] ExportBytes(IDetectorModel model, string[] classNames, NetworkInput input)
    {
        model.Network.eval();
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, classNames, input.Channels, input.Height, input.Width,
            scoreThreshold: _o.ScoreThreshold, iouThreshold: _o.NmsIouThreshold,
            extra: new Dictionary<string, string>
            {
                ["architecture"] = _o.Architecture.ToString(),
                ["backbone"] = _o.Backbone.ToString(),
                ["normalization"] = _o.Normalization.ToString(),
                ["max_detections"] = _o.MaxDetections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
        return model.Export(input, metadata, _o.ScoreThreshold, _o.NmsIouThreshold, _o.MaxDetections).ToBytes();
    }

    /// <summary>
    /// VOC all-point mAP@0.5 of the model on a dataset, through the scoring chain's own post-processing and the
    /// evaluator's VOC code; boxes in pixels of the network input (the VOC rule adds a pixel to widths).
    /// </summary>
    private double MeanAveragePrecision(IDetectorModel model, DetectionTrainingSet data, Device device)
    {
        model.Network.eval();
        float w = data.Input.Width, h = data.Input.Height;
        var post = new float[] { _o.ScoreThreshold, _o.NmsIouThreshold, _o.MaxDetections };
        var images = new List<EvaluationImage>(data.Count);
        for (int start = 0; start < data.Count; start += _o.BatchSize)
        {
            var idx = Enumerable.Range(start, Math.Min(_o.BatchSize, data.Count - start)).ToArray();
            using var scope = NewDisposeScope();
            var (pixels, _) = data.Batch(idx, null, new Random(0), device);
            var raw = model.Predict(pixels);
            for (int j = 0; j < idx.Length; j++)
            {
                var output = new DetectionOutputRow();
                DetectionOutputMapping.Map(new DetectionOutputInput { Boxes = raw[j].Boxes, ClassScores = raw[j].ClassScores, PostProcess = post, Width = w, Height = h }, output);
                var truth = data.Targets[idx[j]];
                var gt = truth.Boxes.Select((v, k) => k % 2 == 0 ? v * w : v * h).ToArray();
                images.Add(new EvaluationImage
                {
                    Row = idx[j], ImageId = null,
                    GtBoxes = gt, GtClasses = truth.Labels.Select(l => (int)l - 1).ToArray(),
                    GtDifficult = new bool[truth.Count], GtCrowd = new bool[truth.Count], GtAreas = null,
                    DtBoxes = output.Boxes, DtClasses = output.LabelIndices.Select(l => (int)l - 1).ToArray(), DtScores = output.Scores,
                });
            }
        }
        var (_, ap) = VocEvaluation.Evaluate(images, data.ClassNames.Length, 0.5);
        var valid = ap.Where(double.IsFinite).ToArray();
        return valid.Length == 0 ? 0 : valid.Average();
    }
}
