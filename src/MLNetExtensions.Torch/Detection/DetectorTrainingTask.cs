using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// A detector (SSD, grid or Faster R-CNN) as <see cref="TrainingLoop"/> trains it: the training and validation sets checked and
/// loaded, the model the options describe, its named loss parts, validation VOC mAP@0.5 and export.
/// </summary>
internal sealed class DetectorTrainingTask : ITrainingTask<IDetectorModel>, IDisposable
{
    private readonly DetectorTrainerOptions _o;
    private readonly DetectionTrainingSet _train;
    private readonly DetectionTrainingSet? _validation;
    private readonly DetectionBatchStream _batches;

    /// <summary>Checks the rows and starts nothing yet; the training images are decoded by the data workers as steps need
    /// them (<see cref="DetectionBatchStream"/>). Make the <see cref="TrainingLoop"/> first: the default worker count
    /// depends on the libtorch threads it sets.</summary>
    public DetectorTrainingTask(MLContext ml, DetectorTrainerOptions options, IDataView trainData, IHostEnvironment? log = null)
    {
        _o = options;
        var input = new NetworkInput(_o.InputWidth, _o.InputHeight, _o.Grayscale);
        _train = DetectionTrainingSet.Create(ml, trainData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn, holdPixels: false,
            checkThreads: _o.DataWorkers ?? 0);
        if (options.ValidationData != null)
        {
            // Checked like the training set; its images decoded when a validation reads them, kept when they fit the budget.
            _validation = DetectionTrainingSet.Create(ml, options.ValidationData, input, _o.ImagePathColumn, _o.BoxesColumn, _o.LabelsColumn, "validation data",
                holdPixels: false, checkThreads: _o.DataWorkers ?? 0);
            _validation.DecodeOnDemand(_o.DataWorkers ?? 0, _o.PixelCacheBytes, log, _o.LogSource);
            if (!_validation.ClassNames.SequenceEqual(_train.ClassNames))
                throw new ArgumentException($"The validation data's classes ({string.Join(", ", _validation.ClassNames)}) differ from the training data's ({string.Join(", ", _train.ClassNames)}). Read both with the same class list.");
        }
        _batches = new DetectionBatchStream(_train, TrainingPlan.For(options, _train.Count), _o.Augmentation,
            _o.ResolveDataWorkers(TorchSharp.torch.get_num_threads()), _o.PrefetchBatches, _o.PixelCacheBytes, log, _o.LogSource,
            _o.TrainingInputs(input));
    }

    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose() => _batches.Dispose();

    public string LogSource => _o.LogSource;
    public string MetricName => "validation mAP@0.5";
    public int Count => _train.Count;
    public bool HasValidation => _validation != null;
    public string Fingerprint => _o.Fingerprint(_train.ClassNames);
    public IEnumerable<(string Name, object? Value)> FingerprintSettings => _o.FingerprintSettings()
        .Append(("TrainingData", _train.ContentHash())).Append(("ValidationData", _validation?.ContentHash()));

    public IDetectorModel CreateModel(Device device)
    {
        var model = _o.CreateModel(_train.ClassNames.Length, device);
        if (_o.FreezeBackbone) model.Network.modules().OfType<SsdBackbone>().Single().Freeze(_o.FreezeBackboneUpTo);
        return model;
    }

    public TrainingLoss Loss(IDetectorModel model, int step, int[] indices, Random rng, Device device)
    {
        var (images, targets) = _batches.Batch(step, indices, device);
        return model.Loss(images, targets, rng);
    }

    public byte[] Export(IDetectorModel model)
    {
        model.Network.eval();
        var input = _train.Input;
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, _train.ClassNames, input.Channels, input.Height, input.Width,
            scoreThreshold: _o.DetectionScoreThreshold, iouThreshold: _o.DetectionNmsThreshold, extra: _o.ExportMetadata());
        return model.Export(input, metadata, _o.DetectionScoreThreshold, _o.DetectionNmsThreshold, _o.DetectionsPerImage).ToBytes();
    }

    /// <summary>
    /// VOC all-point mAP@0.5 of the model on the validation set, through the scoring chain's own post-processing and the
    /// evaluator's VOC code; boxes in pixels of the network input (the VOC rule adds a pixel to widths).
    /// </summary>
    public double Validate(IDetectorModel model, Device device)
    {
        var data = _validation ?? throw new InvalidOperationException("There is no validation data.");
        model.Network.eval();
        float w = data.Input.Width, h = data.Input.Height;
        var post = new float[] { _o.DetectionScoreThreshold, _o.DetectionNmsThreshold, _o.DetectionsPerImage };
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

    /// <summary>A detector estimator's <c>Fit</c>: columns checked, the shared loop run on this task, the scoring transformer built.</summary>
    public static (DetectionTransformer Model, TrainingHistory History) Fit(IHostEnvironment? log, DetectorTrainerOptions options, IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        OutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(input.Schema), options);
        // ML.NET's catalogs do not expose their MLContext; data plumbing uses a private one seeded like the run,
        // messages go to the caller's MLContext.Log through the catalog's environment.
        var ml = new MLContext(options.Seed);
        var loop = new TrainingLoop(options, log);
        TrainingResult<IDetectorModel> result;
        using (var task = new DetectorTrainingTask(ml, options, input, log))   // the data workers end with the run, failed or not
            result = loop.Run(task);
        result.Model.Dispose();   // scoring runs the exported ONNX; the TorchSharp network and the model's tensors are freed now, not by the finalizer
        return (DetectionTransformer.Create(ml, result.Onnx, options.ImagePathColumn), loop.History);
    }

    /// <summary>The estimators' <c>GetOutputSchema</c>: checks the three input columns and adds the prediction columns.</summary>
    public static SchemaShape OutputSchema(SchemaShape inputSchema, DetectorNetworkOptions o)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        TrainingColumns.Require(columns, o.ImagePathColumn, TrainingColumns.IsText, "text (the image file path)");
        TrainingColumns.Require(columns, o.BoxesColumn, c => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Single, "a vector of float (N×4 box corners in pixels)");
        TrainingColumns.Require(columns, o.LabelsColumn, c => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.IsKey, "a vector of keys (class indices with the class names as key values)");
        // SchemaShape.Column has no public constructor: the output columns are read off the scoring chain's schema.
        foreach (var c in DetectionTransformer.OutputColumnsShape()) columns[c.Name] = c;
        return new SchemaShape(columns.Values);
    }
}
