using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Detection.Rcnn;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Options of <see cref="RcnnDetectorEstimator"/>, classic R-CNN (Girshick, Donahue, Darrell, Malik, "Rich feature
/// hierarchies for accurate object detection and semantic segmentation", CVPR 2014), named after the paper's settings
/// where they mean the same. The <see cref="TrainerOptions"/> (optimizer, steps, <see cref="TrainerOptions.BatchSize"/>
/// images per step, checkpoints, validation) are the CNN fine-tuning's, on the shared training loop. Defaults live here
/// and nowhere else; <see cref="Validate"/> checks them all when the estimator is made, before any data is read.
/// </summary>
public sealed record RcnnDetectorOptions : DetectorNetworkOptions
{
    /// <summary>AdamW at 1e-3 with weight decay 1e-4, 50 warmup steps and a cosine decay (the paper fine-tunes with SGD at
    /// 0.001 from ImageNet for 100k+ steps; AdamW converges sooner on a CPU budget). Random crops are off: the proposals
    /// are computed once, on the image as it is; flips and photometric jitter stay. The SVMs and box regressions are
    /// trained on the features of the fine-tuning's last weights, so validation reports progress and may stop early, but
    /// does not pick an earlier model (<see cref="TrainerOptions.ReturnBestValidatedModel"/> is false).</summary>
    public RcnnDetectorOptions() : base(OptimizerKind.Adam, learningRate: 1e-3, weightDecay: 1e-4, warmupSteps: 50, LearningRateDecay.Cosine)
    {
        Augmentation = new DetectionAugmentation(RandomCrop: false, ZoomOut: false);
        ReturnBestValidatedModel = false;
    }

    // Proposals.
    /// <summary>How selective search proposes regions, in training and in the scoring chain (the paper: fast mode).</summary>
    public SelectiveSearchOptions Proposals { get; set; } = new();
    /// <summary>The best-ranked proposals kept per image, in training and scoring (the paper: about 2000); at most
    /// <see cref="RcnnProposalMapping.MaxProposals"/>. The CNN runs once per proposal, so this is most of the cost.</summary>
    public int ProposalsPerImage { get; set; } = RcnnProposalMapping.MaxProposals;

    // The CNN on warped regions.
    /// <summary>Side of the square every region is warped to (the paper: 227 for AlexNet).</summary>
    public int WarpSize { get; set; } = 64;
    /// <summary>Pixels of image context kept around a region in the warped frame (the paper: 16 of 227).</summary>
    public int ContextPadding { get; set; } = 4;
    /// <summary>Fine-tuning: a region with IoU ≥ this with a ground-truth box has that box's class, else background.</summary>
    public float FineTuneIouThreshold { get; set; } = 0.5f;
    /// <summary>Object regions per fine-tuning step (the paper: 32), drawn over the step's images.</summary>
    public int PositivesPerBatch { get; set; } = 32;
    /// <summary>Background regions per fine-tuning step (the paper: 96).</summary>
    public int BackgroundPerBatch { get; set; } = 96;

    // Per-class linear SVMs.
    /// <summary>SVM negatives of a class: regions with IoU below this with every box of the class (the paper: 0.3).</summary>
    public float SvmNegativeIouThreshold { get; set; } = 0.3f;
    /// <summary>Rounds of hard negative mining after the first SVM.</summary>
    public int HardNegativeRounds { get; set; } = 2;
    /// <summary>Random negatives the first SVM of a class is trained on, and the most hard negatives a round adds.</summary>
    public int SvmNegativesPerRound { get; set; } = 2000;
    /// <summary>Weight of a positive against a negative (the paper's liblinear w1 = 2).</summary>
    public float SvmPositiveWeight { get; set; } = 2f;
    /// <summary><c>LinearSvm</c>'s regularisation λ.</summary>
    public float SvmLambda { get; set; } = 1e-3f;
    /// <summary><c>LinearSvm</c>'s passes over the data.</summary>
    public int SvmIterations { get; set; } = 10;

    // Box regression.
    /// <summary>Proposals with IoU ≥ this with a box of the class train its regression (the paper: 0.6).</summary>
    public float BoxRegressionIouThreshold { get; set; } = 0.6f;
    /// <summary>L2 penalty of the ridge regressions (SDCA's, on features scaled to a mean norm of 20).</summary>
    public float BoxRegressionL2 { get; set; } = 0.1f;

    // Post-processing, carried in the exported model.
    /// <summary>Lowest score (the SVM's margin through a sigmoid; a margin of −1 is 0.27) a detection keeps.</summary>
    public float ScoreThreshold { get; set; } = 0.05f;
    /// <summary>IoU of the per-class NMS (the paper: 0.3).</summary>
    public float NmsIouThreshold { get; set; } = 0.3f;
    public int MaxDetections { get; set; } = 100;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Proposals is null) throw new ArgumentNullException(nameof(Proposals), $"{nameof(Proposals)} must be selective search options; use new SelectiveSearchOptions() for the defaults.");
        Check(ProposalsPerImage >= 1 && ProposalsPerImage <= RcnnProposalMapping.MaxProposals, nameof(ProposalsPerImage), ProposalsPerImage, $"must be within 1..{RcnnProposalMapping.MaxProposals}");
        Check(WarpSize >= 8 && WarpSize <= 512, nameof(WarpSize), WarpSize, "must be within 8..512 pixels");
        Check(ContextPadding >= 0 && 2 * ContextPadding < WarpSize, nameof(ContextPadding), ContextPadding, $"must be within 0..{(WarpSize - 1) / 2} (less than half of {nameof(WarpSize)} = {WarpSize})");
        Check(FineTuneIouThreshold > 0 && FineTuneIouThreshold <= 1, nameof(FineTuneIouThreshold), FineTuneIouThreshold, "must be within (0, 1]");
        Check(PositivesPerBatch >= 1, nameof(PositivesPerBatch), PositivesPerBatch, "must be at least 1");
        Check(BackgroundPerBatch >= 1, nameof(BackgroundPerBatch), BackgroundPerBatch, "must be at least 1");
        Check(SvmNegativeIouThreshold > 0 && SvmNegativeIouThreshold <= 1, nameof(SvmNegativeIouThreshold), SvmNegativeIouThreshold, "must be within (0, 1]");
        Check(HardNegativeRounds >= 0, nameof(HardNegativeRounds), HardNegativeRounds, "must be >= 0");
        Check(SvmNegativesPerRound >= 1, nameof(SvmNegativesPerRound), SvmNegativesPerRound, "must be at least 1");
        Check(SvmPositiveWeight > 0 && float.IsFinite(SvmPositiveWeight), nameof(SvmPositiveWeight), SvmPositiveWeight, "must be positive");
        Check(SvmLambda > 0 && float.IsFinite(SvmLambda), nameof(SvmLambda), SvmLambda, "must be positive");
        Check(SvmIterations >= 1, nameof(SvmIterations), SvmIterations, "must be at least 1");
        Check(BoxRegressionIouThreshold > 0 && BoxRegressionIouThreshold <= 1, nameof(BoxRegressionIouThreshold), BoxRegressionIouThreshold, "must be within (0, 1]");
        Check(BoxRegressionL2 > 0 && float.IsFinite(BoxRegressionL2), nameof(BoxRegressionL2), BoxRegressionL2, "must be positive");
        Check(ScoreThreshold > 0 && ScoreThreshold < 1, nameof(ScoreThreshold), ScoreThreshold, "must be within (0, 1): the candidates of the other classes score 0");
        Check(NmsIouThreshold > 0 && NmsIouThreshold <= 1, nameof(NmsIouThreshold), NmsIouThreshold, "must be within (0, 1]");
        Check(MaxDetections >= 1, nameof(MaxDetections), MaxDetections, "must be at least 1");
        if (ReturnBestValidatedModel)
            throw new ArgumentException($"{nameof(ReturnBestValidatedModel)} is true, but R-CNN trains its SVMs and box regressions on the features of the CNN's last fine-tuned weights; set it to false (validation still reports progress and stops early).", nameof(ReturnBestValidatedModel));
        if (ModelEmaDecay != null)
            throw new ArgumentException($"{nameof(ModelEmaDecay)} is {ModelEmaDecay}, but R-CNN trains its SVMs and box regressions on the features of the CNN's last fine-tuned weights, not an average; leave it null.", nameof(ModelEmaDecay));
        if (Augmentation is { RandomCrop: true })
            throw new ArgumentException($"{nameof(Augmentation)}.{nameof(DetectionAugmentation.RandomCrop)} is true, but R-CNN's proposals are computed once on the uncropped image; set it to false (flips and photometric jitter are applied).", nameof(Augmentation));
        if (Augmentation is { ZoomOut: true })
            throw new ArgumentException($"{nameof(Augmentation)}.{nameof(DetectionAugmentation.ZoomOut)} is true, but R-CNN's proposals are computed once on the image as it is; set it to false (flips and photometric jitter are applied).", nameof(Augmentation));
    }

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the CNN or its training data.</summary>
    /// <summary>What shapes the fine-tuning run besides the network, for a checkpoint's fingerprint: the shared detector
    /// settings, the proposals and the regions drawn (the SVMs and box regressions are trained after it, from the
    /// fine-tuned weights, so their settings are not in it).</summary>
    internal IEnumerable<(string Name, object? Value)> FingerprintSettings() => NetworkFingerprintSettings().Concat(
    [
        (nameof(Proposals), Proposals), (nameof(ProposalsPerImage), ProposalsPerImage), (nameof(WarpSize), WarpSize),
        (nameof(ContextPadding), ContextPadding), (nameof(FineTuneIouThreshold), FineTuneIouThreshold),
        (nameof(PositivesPerBatch), PositivesPerBatch), (nameof(BackgroundPerBatch), BackgroundPerBatch),
    ]);

    internal string Fingerprint(IReadOnlyList<string> classNames)
        => $"rcnn|{Backbone}|{WidthMultiplier}|{InputWidth}x{InputHeight}|gray={Grayscale}|{Normalization}|warp={WarpSize}:{ContextPadding}|" +
           $"proposals={ProposalsPerImage}:{Proposals}|ft={FineTuneIouThreshold}:{PositivesPerBatch}:{BackgroundPerBatch}|" +
           $"{FreezeFingerprint}{OptimizationFingerprint}|ema={ModelEmaDecay}|classes={string.Join(",", classNames)}";

    internal RcnnNetwork CreateNetwork(int classCount) => new(Backbone, Grayscale ? 1 : 3, classCount, Normalization, WidthMultiplier,
        BackboneWeightsPath, WarpSize, ContextPadding);

    /// <summary>The model description written into the ONNX metadata; the selective search settings the scoring chain reads.</summary>
    internal Dictionary<string, string> ExportMetadata() => new()
    {
        ["architecture"] = "Rcnn",
        ["backbone"] = Backbone.ToString(),
        ["normalization"] = Normalization.ToString(),
        ["warp_size"] = WarpSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["context_padding"] = ContextPadding.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["proposals_per_image"] = ProposalsPerImage.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [RcnnProposalMapping.MetadataKey] = RcnnProposalMapping.ToMetadata(RcnnProposalMapping.Encode(Proposals, ProposalsPerImage)),
    };
}
