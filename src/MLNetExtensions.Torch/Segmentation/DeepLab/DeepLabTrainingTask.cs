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
/// A DeepLab v3+ segmenter as <see cref="TrainingLoop"/> trains it: image/mask sets checked and loaded, the network
/// (frozen backbone stages included), its loss (cross-entropy and Dice), validation mIoU and export. The training rows
/// are checked at construction and streamed from their files (<see cref="SegmentationBatchStream"/>, on the training
/// thread unless <see cref="TrainerOptions.DataWorkers"/> is set); the validation set is held.
/// </summary>
internal sealed class DeepLabTrainingTask : ITrainingTask<DeepLabNetwork>, IDisposable
{
    private readonly DeepLabSegmenterOptions _o;
    private readonly SegmentationTrainingSet _train;
    private readonly SegmentationTrainingSet? _validation;
    private readonly SegmentationLoss _loss;
    private readonly SegmentationBatchStream _batches;

    /// <summary>Checks the rows and starts nothing yet: data workers, when set, start at the first step.</summary>
    public DeepLabTrainingTask(MLContext ml, DeepLabSegmenterOptions options, IDataView trainData, IHostEnvironment? log = null)
    {
        _o = options;
        var input = new NetworkInput(_o.InputWidth, _o.InputHeight, _o.Grayscale);
        _train = SegmentationTrainingSet.Create(ml, trainData, input, _o.ImagePathColumn, _o.MaskPathColumn, _o.ClassNames, holdImages: false,
            checkThreads: _o.DataWorkers ?? 0);
        if (_o.ClassWeights != null && _o.ClassWeights.Count != _train.ClassNames.Length)
            throw new ArgumentException($"{nameof(_o.ClassWeights)} has {_o.ClassWeights.Count} values but the training masks have {_train.ClassNames.Length} classes.");
        if (_o.ValidationData != null)
        {
            // Checked like the training set; its images and masks decoded when a validation reads them, kept when they fit the budget.
            _validation = SegmentationTrainingSet.Create(ml, _o.ValidationData, input, _o.ImagePathColumn, _o.MaskPathColumn, _train.ClassNames, "validation data", holdImages: false,
                checkThreads: _o.DataWorkers ?? 0);
            _validation.DecodeOnDemand(_o.DataWorkers ?? 0, _o.PixelCacheBytes, log, LogSource);
        }
        _loss = new SegmentationLoss(_o.Loss, _o.DiceWeight, _o.ClassWeights);
        _batches = new SegmentationBatchStream(_train, TrainingPlan.For(options, _train.Count), _o.Augmentation,
            _o.DataWorkers ?? 0, _o.PrefetchBatches, _o.PixelCacheBytes, log, LogSource);   // 0 by default: see DataWorkers
    }

    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose() => _batches.Dispose();

    public string LogSource => nameof(DeepLabSegmenterEstimator);
    public string MetricName => "validation mIoU";
    public int Count => _train.Count;
    public bool HasValidation => _validation != null;
    public string Fingerprint => _o.Fingerprint(_train.ClassNames);
    public IEnumerable<(string Name, object? Value)> FingerprintSettings => _o.FingerprintSettings()
        .Append(("TrainingData", _train.ContentHash())).Append(("ValidationData", _validation?.ContentHash()));

    public DeepLabNetwork CreateModel(Device device)
    {
        var network = new DeepLabNetwork(SegmentationBackboneFactory.Create(_o, _train.Input.Channels), _train.ClassNames.Length,
            _o.Normalization, _o.AtrousRates, _o.AsppChannels, _o.LowLevelChannels, _o.Dropout);
        if (_o.FreezeBackbone) network.Freeze(_o.FreezeBackboneUpTo, _o.FrozenBatchNormUsesBatchStatistics);
        network.to(device);
        return network;
    }

    public TrainingLoss Loss(DeepLabNetwork model, int step, int[] indices, Random rng, Device device)
    {
        var (images, targets) = _batches.Batch(step, indices, rng, device);
        var parts = _loss.Compute(model.call(images), targets);
        return new TrainingLoss(parts.Total, [("cross_entropy", parts.CrossEntropy), ("dice", parts.Dice)]);
    }

    public byte[] Export(DeepLabNetwork model)
    {
        model.eval();
        var input = _train.Input;
        var metadata = new OnnxModelMetadata(OnnxModelKind.Segmentation, _train.ClassNames, input.Channels, input.Height, input.Width,
            extra: new Dictionary<string, string>
            {
                ["architecture"] = "DeepLabV3Plus",
                ["backbone"] = _o.Backbone.ToString(),
                ["output_stride"] = _o.OutputStride.ToString(CultureInfo.InvariantCulture),
                ["normalization"] = _o.Normalization.ToString(),
            });
        return model.ExportGraph(input, metadata).ToBytes();
    }

    /// <summary>mIoU over the validation pixels at the network's input size (255 skipped), through the evaluator's metrics.</summary>
    public double Validate(DeepLabNetwork model, Device device)
    {
        var data = _validation ?? throw new InvalidOperationException("There is no validation data.");
        model.eval();
        int k = data.ClassNames.Length;
        var confusion = new long[k, k];
        for (int start = 0; start < data.Count; start += _o.BatchSize)
        {
            var idx = Enumerable.Range(start, Math.Min(_o.BatchSize, data.Count - start)).ToArray();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (images, targets) = data.Batch(idx, null, new Random(0), device);   // unaugmented targets: each row's Mask(i)
            var predicted = model.call(images).argmax(1).to(ScalarType.Byte).cpu().data<byte>().ToArray();   // (B·H·W)
            var truth = targets.to(ScalarType.Byte).cpu().data<byte>().ToArray();                           // (B·H·W)
            for (int p = 0; p < truth.Length; p++)
                if (truth[p] != SegmentationColumns.IgnoreIndex) confusion[truth[p], predicted[p]]++;
        }
        var iou = new SegmentationMetrics(data.ClassNames, confusion, data.Count).MeanIoU;
        return double.IsFinite(iou) ? iou : 0;
    }
}
