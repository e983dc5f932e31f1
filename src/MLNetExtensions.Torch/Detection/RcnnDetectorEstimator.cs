using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Detection.Rcnn;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Trains a classic R-CNN (Girshick et al. 2014) and returns a <see cref="DetectionTransformer"/> whose chain is
/// selective search → warp → CNN features in ONNX Runtime → one linear SVM per class → class-specific box regression
/// → per-class NMS, with the other detectors' output columns. <see cref="Fit"/>: (a) selective search on every training
/// image and the CNN fine-tuned on warped proposals (with context padding) on the shared <see cref="TrainingLoop"/>,
/// exported to ONNX; (b) every region's features computed with that graph in ONNX Runtime; (c) per class a binary
/// <c>LinearSvm</c> (positives: the ground-truth boxes; negatives: regions with IoU &lt; 0.3) with rounds of hard
/// negative mining; (d) per class a ridge box regression (SDCA, L2 only); the SVMs and regressions are then written
/// into the CNN's graph, and (e) NMS is the scoring chain's. Made by
/// <see cref="DetectionTrainingCatalog.TrainRcnnDetector(TransformsCatalog, RcnnDetectorOptions)"/>.
/// </summary>
public sealed class RcnnDetectorEstimator : IEstimator<DetectionTransformer>
{
    private readonly IHostEnvironment? _log;

    internal RcnnDetectorEstimator(IHostEnvironment? log, RcnnDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _log = log;
        Options = options;
    }

    public RcnnDetectorOptions Options { get; }

    /// <summary>The CNN fine-tuning's loss (<c>classification</c>, and the figures <c>accuracy</c> and <c>positives</c>) per
    /// step and its validation mAP per validated epoch, of the last <see cref="Fit"/>.</summary>
    public TrainingHistory? LastHistory { get; private set; }

    /// <summary>What the SVM and box regression stages trained on, per class, in the last <see cref="Fit"/>.</summary>
    public IReadOnlyList<string>? LastHeadReport { get; private set; }

    public DetectionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        DetectorTrainingTask.OutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(input.Schema), Options);
        var ml = new MLContext(Options.Seed);
        var loop = new TrainingLoop(Options, _log);
        using var task = new RcnnTrainingTask(ml, Options, input, _log);   // the data workers end with the run, failed or not
        var result = loop.Run(task);
        var network = result.Model;
        _log.Info(nameof(RcnnDetectorEstimator), $"Computing the region features of {task.TrainingSet.Count} training images in ONNX Runtime ...");
        var heads = new RcnnHeadTrainer(Options, _log);
        RcnnClassHeads classHeads;
        using (var cache = RcnnFeatureCache.Compute(result.Onnx, task.TrainingSet, task.Regions, Options.CpuThreads))
        {
            _log.Info(nameof(RcnnDetectorEstimator), $"Region features: {cache.Bytes / 1e6:F1} MB in '{cache.FilePath}' (deleted when the SVMs and regressions are trained).");
            classHeads = heads.Train(cache, task.Regions, task.TrainingSet.Targets, task.TrainingSet.ClassNames);
        }
        // The options keep the last weights (no best-validated pick, no average), so the live network is the one whose
        // graph gave the features: the SVMs and regressions are written into its graph.
        var detector = network.ExportDetector(task.TrainingSet.Input, task.Metadata(), classHeads, Options.ProposalsPerImage,
            Options.ScoreThreshold, Options.NmsIouThreshold, Options.MaxDetections).ToBytes();
        network.Dispose();   // scoring runs the exported ONNX; the TorchSharp network is freed now, not by the finalizer
        LastHistory = loop.History;
        LastHeadReport = heads.Report;
        return DetectionTransformer.Create(ml, detector, Options.ImagePathColumn);
    }

    /// <summary>Checks the image path, boxes and labels columns and adds the prediction columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => DetectorTrainingTask.OutputSchema(inputSchema, Options);
}
