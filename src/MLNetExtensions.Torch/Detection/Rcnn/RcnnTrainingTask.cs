using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Training.HeldScalars;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// R-CNN's CNN fine-tuning as <see cref="TrainingLoop"/> trains it: every training image's selective search proposals
/// and ground-truth boxes, labelled by IoU (≥ <c>FineTuneIouThreshold</c>: the box's class, else background); a step
/// draws <c>PositivesPerBatch</c> object and <c>BackgroundPerBatch</c> background regions over its images with the shared
/// <see cref="BalancedPositiveNegativeSampler"/>, warps them (with context padding) and minimises the (C + 1)-way
/// cross-entropy. Validation: VOC mAP@0.5 of the fine-tuned softmax on the validation proposals. Export: the CNN graph.
/// </summary>
internal sealed class RcnnTrainingTask : ITrainingTask<RcnnNetwork>, IDisposable
{
    private readonly RcnnDetectorOptions _o;
    private readonly DetectionTrainingSet _train;
    private readonly RcnnRegions[] _regions;
    private readonly long[][] _labels;
    private readonly DetectionTrainingSet? _validation;
    private readonly RcnnRegions[]? _validationRegions;
    private readonly DetectionBatchStream _batches;

    /// <summary>Checks the rows (each image's structure, as the detectors do) and runs selective search on every image. The
    /// fine-tuning steps read their images through the detectors' <see cref="DetectionBatchStream"/> (data workers, the
    /// prefetch queue and the <c>PixelCacheBytes</c> cache of originals; unaugmented: the flips and photometric changes
    /// are this task's, applied with the proposals); validation images are decoded when a validation reads them, kept at
    /// the input size when they fit <c>PixelCacheBytes</c>; the feature pass decodes each training image once.</summary>
    public RcnnTrainingTask(MLContext ml, RcnnDetectorOptions options, IDataView trainData, IHostEnvironment? log = null)
    {
        _o = options;
        var input = new NetworkInput(_o.InputWidth, _o.InputHeight, _o.Grayscale);
        _train = DetectionTrainingSet.Create(ml, trainData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn, holdPixels: false,
            checkThreads: _o.DataWorkers ?? 0);
        var counts = new int[_train.ClassNames.Length];
        foreach (var t in _train.Targets) foreach (var l in t.Labels) counts[l - 1]++;
        for (int k = 0; k < counts.Length; k++)
            if (counts[k] == 0)
                throw new ArgumentException($"Class '{_train.ClassNames[k]}' has no boxes in the training data, so R-CNN has no positives to fine-tune its CNN and train its SVM with. Add images with '{_train.ClassNames[k]}' objects, or leave the class out of the class list.", nameof(trainData));
        _regions = RcnnRegions.For(_train, _o.Proposals, _o.ProposalsPerImage, "training data");
        _labels = _regions.Select((r, i) => Enumerable.Range(0, r.Count)
            .Select(q => r.BestTruth[q] >= 0 && r.BestIou[q] >= _o.FineTuneIouThreshold ? _train.Targets[i].Labels[r.BestTruth[q]] : 0L).ToArray()).ToArray();
        if (options.ValidationData != null)
        {
            _validation = DetectionTrainingSet.Create(ml, options.ValidationData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn, "validation data",
                holdPixels: false, checkThreads: _o.DataWorkers ?? 0);
            _validation.DecodeOnDemand(_o.DataWorkers ?? 0, _o.PixelCacheBytes, log, LogSource);
            if (!_validation.ClassNames.SequenceEqual(_train.ClassNames))
                throw new ArgumentException($"The validation data's classes ({string.Join(", ", _validation.ClassNames)}) differ from the training data's ({string.Join(", ", _train.ClassNames)}). Read both with the same class list.");
            _validationRegions = RcnnRegions.For(_validation, _o.Proposals, _o.ProposalsPerImage, "validation data");
        }
        _batches = new DetectionBatchStream(_train, TrainingPlan.For(options, _train.Count), augmentation: null,
            _o.ResolveDataWorkers(get_num_threads()), _o.PrefetchBatches, _o.PixelCacheBytes, log, LogSource);
    }

    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose() => _batches.Dispose();

    public DetectionTrainingSet TrainingSet => _train;
    public RcnnRegions[] Regions => _regions;

    public string LogSource => nameof(RcnnDetectorEstimator);
    public string MetricName => "validation mAP@0.5 (fine-tuned softmax)";
    public int Count => _train.Count;
    public bool HasValidation => _validation != null;
    public string Fingerprint => _o.Fingerprint(_train.ClassNames);

    public IEnumerable<(string Name, object? Value)> FingerprintSettings => _o.FingerprintSettings()
        .Append(("TrainingData", _train.ContentHash())).Append(("ValidationData", _validation?.ContentHash()));

    public RcnnNetwork CreateModel(Device device)
    {
        var network = _o.CreateNetwork(_train.ClassNames.Length);
        if (_o.FreezeBackbone) network.Backbone.Freeze(_o.FreezeBackboneUpTo);
        network.to(device);
        return network;
    }

    public TrainingLoss Loss(RcnnNetwork model, int step, int[] indices, Random rng, Device device)
    {
        var (images, _) = _batches.Batch(step, indices, device);                                   // (B, C, H, W)
        float w = _o.InputWidth, h = _o.InputHeight;
        var labels = new List<long>();
        var rois = new List<float>();
        var flipped = new List<Tensor>(indices.Length);
        var augmentation = _o.Augmentation;
        for (int b = 0; b < indices.Length; b++)
        {
            var r = _regions[indices[b]];
            bool flip = augmentation is { HorizontalFlip: true } && rng.NextDouble() < 0.5;
            var image = images[b];
            if (flip) image = image.flip(2);
            if (augmentation != null) image = PhotometricJitter.Apply(image, augmentation.Brightness, augmentation.Contrast, rng);
            flipped.Add(image);
            for (int q = 0; q < r.Count; q++)
            {
                float x0 = r.Boxes[4 * q], y0 = r.Boxes[4 * q + 1], x1 = r.Boxes[4 * q + 2], y1 = r.Boxes[4 * q + 3];
                if (flip) (x0, x1) = (1 - x1, 1 - x0);
                rois.AddRange([b, x0 * w, y0 * h, x1 * w, y1 * h]);
                labels.Add(_labels[indices[b]][q]);
            }
        }
        var all = tensor(labels.ToArray(), ScalarType.Int64);
        using var generator = new Generator((ulong)rng.NextInt64(long.MaxValue));
        int batch = _o.PositivesPerBatch + _o.BackgroundPerBatch;
        using var sampler = new BalancedPositiveNegativeSampler(batch, (float)_o.PositivesPerBatch / batch, generator);
        var (pos, neg) = sampler.Sample(all);
        var drawn = pos.logical_or(neg).nonzero().view(-1);
        var drawnRois = tensor(rois.ToArray()).reshape(-1, 5).index_select(0, drawn).to(device);
        var target = all.index_select(0, drawn).to(device);
        var logits = model.Classify(model.Features(stack(flipped), drawnRois));
        var loss = F.cross_entropy(logits, target);
        var accuracy = logits.argmax(1).eq(target).to(ScalarType.Float32).mean();
        var positives = target.gt(HeldArithmetic.Zero).to(ScalarType.Float32).sum();
        return new TrainingLoss(loss, [("classification", loss)], [("accuracy", accuracy), ("positives", positives)]);
    }

    public byte[] Export(RcnnNetwork model)
    {
        model.eval();
        return model.ExportCnn(_train.Input, Metadata()).ToBytes();
    }

    /// <summary>The ONNX metadata of the R-CNN's graphs.</summary>
    public OnnxModelMetadata Metadata()
    {
        var input = _train.Input;
        return new OnnxModelMetadata(OnnxModelKind.Detection, _train.ClassNames, input.Channels, input.Height, input.Width,
            scoreThreshold: _o.ScoreThreshold, iouThreshold: _o.NmsIouThreshold, extra: _o.ExportMetadata());
    }

    /// <summary>
    /// VOC all-point mAP@0.5 on the validation set of the fine-tuned CNN alone (its softmax over each proposal, class-aware
    /// NMS of the scoring chain, unregressed boxes): the paper's "fine-tuned, no SVM" row; boxes in network-input pixels.
    /// </summary>
    public double Validate(RcnnNetwork model, Device device)
    {
        var data = _validation ?? throw new InvalidOperationException("There is no validation data.");
        model.eval();
        float w = data.Input.Width, h = data.Input.Height;
        var post = new float[] { _o.ScoreThreshold, _o.NmsIouThreshold, _o.MaxDetections };
        var images = new List<EvaluationImage>(data.Count);
        int c = data.ClassNames.Length;
        for (int i = 0; i < data.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var regions = _validationRegions![i];
            var output = new DetectionOutputRow();
            if (regions.ProposalCount > 0)
            {
                var (pixels, _) = data.Batch([i], null, new Random(0), device);
                var proposals = regions.Boxes.AsSpan(0, 4 * regions.ProposalCount).ToArray();
                var rois = tensor(Enumerable.Range(0, regions.ProposalCount).SelectMany(q => new[] { 0f, proposals[4 * q] * w, proposals[4 * q + 1] * h, proposals[4 * q + 2] * w, proposals[4 * q + 3] * h }).ToArray())
                    .reshape(-1, 5).to(device);
                var probabilities = model.Classify(model.Features(pixels, rois)).softmax(1)[.., 1..].contiguous().cpu().data<float>().ToArray();
                DetectionOutputMapping.Map(proposals, probabilities, post, w, h, output);
            }
            var truth = data.Targets[i];
            images.Add(new EvaluationImage
            {
                Row = i, ImageId = null,
                GtBoxes = truth.Boxes.Select((v, k) => k % 2 == 0 ? v * w : v * h).ToArray(), GtClasses = truth.Labels.Select(l => (int)l - 1).ToArray(),
                GtDifficult = new bool[truth.Count], GtCrowd = new bool[truth.Count], GtAreas = null,
                DtBoxes = output.Boxes, DtClasses = output.LabelIndices.Select(l => (int)l - 1).ToArray(), DtScores = output.Scores,
            });
        }
        var (_, ap) = VocEvaluation.Evaluate(images, c, 0.5);
        var valid = ap.Where(double.IsFinite).ToArray();
        return valid.Length == 0 ? 0 : valid.Average();
    }
}
