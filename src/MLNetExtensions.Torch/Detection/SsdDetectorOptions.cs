using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Options of <see cref="SsdDetectorEstimator"/>. Defaults live here and nowhere else; <see cref="Validate"/> checks
/// them all when the estimator is made, so a bad option fails before any data is read.
/// </summary>
public sealed record SsdDetectorOptions : DetectorTrainerOptions
{
    /// <summary>AdamW at 1e-3 with SSD's weight decay of 5e-4, 100 warmup steps and a cosine decay.</summary>
    public SsdDetectorOptions() : base(OptimizerKind.Adam, learningRate: 1e-3, weightDecay: 5e-4, warmupSteps: 100, LearningRateDecay.Cosine) { }

    // Network.
    public DetectorArchitecture Architecture { get; set; } = DetectorArchitecture.Ssd;
    /// <summary>Grid detector only: cells per side.</summary>
    public int GridSize { get; set; } = 7;
    /// <summary>SSD only: add the stride-16 map's features into the stride-8 map (1×1 projection, upsampling, sum,
    /// 3×3 conv; FPN-style), giving the head that finds the smallest objects more context.</summary>
    public bool TopDownFusion { get; set; }

    // Default boxes and matching (SSD).
    public float MinScale { get; set; } = 0.1f;
    public float MaxScale { get; set; } = 0.9f;
    /// <summary>Extra aspect ratios per feature map (six lists); each r adds r and 1/r.</summary>
    public float[][] AspectRatios { get; set; } = [[2f], [2f, 3f], [2f, 3f], [2f, 3f], [2f], [2f]];
    /// <summary>IoU at which a default box matches a ground-truth box; each ground truth also keeps its best default box.</summary>
    public float MatchIouThreshold { get; set; } = 0.5f;
    /// <summary>Default boxes whose best IoU with any object is in [this, <see cref="MatchIouThreshold"/>) are left out of
    /// the classification loss: neither object nor background (RetinaNet's 0.4–0.5 band). Such boxes hold most of an object
    /// without matching it, so as background they are the "hardest" negatives mining picks, and they teach the head to call
    /// small objects background. Null (the default): SSD's single threshold.</summary>
    public float? IgnoreIouThreshold { get; set; }
    public int NegativePositiveRatio { get; set; } = 3;
    public LocalizationLoss LocalizationLoss { get; set; } = LocalizationLoss.SmoothL1;
    public float LocalizationWeight { get; set; } = 1f;

    // Post-processing, carried in the exported model.
    public float ScoreThreshold { get; set; } = 0.05f;
    public float NmsIouThreshold { get; set; } = 0.45f;
    public int MaxDetections { get; set; } = 100;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Check(Enum.IsDefined(Architecture), nameof(Architecture), Architecture, "is unknown");
        Check(Enum.IsDefined(LocalizationLoss), nameof(LocalizationLoss), LocalizationLoss, "is unknown");
        Check(GridSize >= 1 && GridSize <= 64, nameof(GridSize), GridSize, "must be within 1..64");
        if (TopDownFusion && Architecture != DetectorArchitecture.Ssd)
            throw new ArgumentException($"{nameof(TopDownFusion)} fuses SSD's stride-16 map into its stride-8 map; the {Architecture} detector has one map. Leave it false or set {nameof(Architecture)} to {nameof(DetectorArchitecture.Ssd)}.", nameof(TopDownFusion));
        Check(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 1, nameof(MinScale), MinScale, $"must satisfy 0 < MinScale <= MaxScale ({MaxScale}) <= 1");
        if (AspectRatios is null || AspectRatios.Length != 6)
            throw new ArgumentException($"{nameof(AspectRatios)} needs one list per SSD feature map (6), got {AspectRatios?.Length ?? 0}.", nameof(AspectRatios));
        Check(MatchIouThreshold > 0 && MatchIouThreshold < 1, nameof(MatchIouThreshold), MatchIouThreshold, "must be within (0, 1)");
        Check(IgnoreIouThreshold is null || (IgnoreIouThreshold > 0 && IgnoreIouThreshold <= MatchIouThreshold), nameof(IgnoreIouThreshold), IgnoreIouThreshold, $"must be within (0, {nameof(MatchIouThreshold)} = {MatchIouThreshold}] when set");
        Check(NegativePositiveRatio >= 1, nameof(NegativePositiveRatio), NegativePositiveRatio, "must be at least 1");
        Check(LocalizationWeight >= 0, nameof(LocalizationWeight), LocalizationWeight, "must be >= 0");
        Check(ScoreThreshold >= 0 && ScoreThreshold < 1, nameof(ScoreThreshold), ScoreThreshold, "must be within [0, 1)");
        Check(NmsIouThreshold > 0 && NmsIouThreshold <= 1, nameof(NmsIouThreshold), NmsIouThreshold, "must be within (0, 1]");
        Check(MaxDetections >= 1, nameof(MaxDetections), MaxDetections, "must be at least 1");
    }

    internal override string LogSource => nameof(SsdDetectorEstimator);
    internal override float DetectionScoreThreshold => ScoreThreshold;
    internal override float DetectionNmsThreshold => NmsIouThreshold;
    internal override int DetectionsPerImage => MaxDetections;

    internal override Dictionary<string, string> ExportMetadata() => new()
    {
        ["architecture"] = Architecture.ToString(),
        ["backbone"] = Backbone.ToString(),
        ["normalization"] = Normalization.ToString(),
        ["max_detections"] = MaxDetections.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    internal override IDetectorModel CreateModel(int classCount, TorchSharp.torch.Device device) => Architecture == DetectorArchitecture.Grid
        ? new GridDetectorModel(this, classCount, device)
        : new SsdDetectorModel(this, classCount, device);

    private protected override IEnumerable<(string Name, object? Value)> FamilyFingerprintSettings() =>
    [
        (nameof(MatchIouThreshold), MatchIouThreshold), (nameof(NegativePositiveRatio), NegativePositiveRatio),
        (nameof(LocalizationLoss), LocalizationLoss), (nameof(LocalizationWeight), LocalizationWeight),
        (nameof(ScoreThreshold), ScoreThreshold), (nameof(NmsIouThreshold), NmsIouThreshold), (nameof(MaxDetections), MaxDetections),
    ];

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal override string Fingerprint(IReadOnlyList<string> classNames)
        => $"{Architecture}|{Backbone}|{WidthMultiplier}|{InputWidth}x{InputHeight}|gray={Grayscale}|{Normalization}|grid={GridSize}|fusion={TopDownFusion}|" +
           $"scales={MinScale},{MaxScale}|ignore={IgnoreIouThreshold}|ar={string.Join(";", AspectRatios.Select(a => string.Join(",", a)))}|" +
           $"{FreezeFingerprint}{OptimizationFingerprint}|ema={ModelEmaDecay}|classes={string.Join(",", classNames)}";
}
