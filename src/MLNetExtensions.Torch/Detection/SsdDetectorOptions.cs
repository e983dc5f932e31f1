using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Which detector <see cref="SsdDetectorEstimator"/> trains.</summary>
public enum DetectorArchitecture
{
    /// <summary>Multi-scale SSD: six feature maps, default boxes of several scales and aspect ratios, hard negative mining.</summary>
    Ssd,
    /// <summary>The grid detector: one S×S map, per cell 4 box values (tanh) and C class confidences (sigmoid), MSE.</summary>
    Grid,
}

/// <summary>The optimizer of a training run.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW (Adam with decoupled weight decay).</summary>
    Adam,
    /// <summary>SGD with momentum (DeepLab's choice, with the poly schedule).</summary>
    Sgd,
    /// <summary>Adadelta (its learning rate scales the adaptive step; 1.0 is the usual value).</summary>
    Adadelta,
}

/// <summary>
/// Options of <see cref="SsdDetectorEstimator"/>. Defaults live here and nowhere else; <see cref="Validate"/> checks
/// them all when the estimator is made, so a bad option fails before any data is read.
/// </summary>
public sealed record SsdDetectorOptions
{
    // Columns (the data layer's schema).
    public string ImagePathColumn { get; set; } = DetectionColumns.ImagePath;
    public string BoxesColumn { get; set; } = DetectionColumns.Boxes;
    public string LabelsColumn { get; set; } = DetectionColumns.Labels;

    // Network.
    public DetectorArchitecture Architecture { get; set; } = DetectorArchitecture.Ssd;
    public DetectorBackbone Backbone { get; set; } = DetectorBackbone.VggLite;
    /// <summary>Scales every backbone layer's channel count (1 = the published widths).</summary>
    public float WidthMultiplier { get; set; } = 1f;
    /// <summary>
    /// ResNet18 backbone only: a .safetensors file with torchvision's resnet18 key names (e.g. ImageNet weights saved
    /// with <c>safetensors.torch.save_file(resnet18(weights=...).state_dict(), path)</c>) loaded when the network is
    /// created; its <c>fc.*</c> and <c>layer4.*</c> keys are skipped. Needs WidthMultiplier 1 and RGB input for
    /// torchvision's weights. Null: random initialisation. A checkpoint being resumed replaces these weights.
    /// </summary>
    public string? BackboneWeightsPath { get; set; }
    public int InputWidth { get; set; } = 300;
    public int InputHeight { get; set; } = 300;
    public bool Grayscale { get; set; }
    public PixelNormalization Normalization { get; set; } = PixelNormalization.PerImageStandardization;
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

    // Optimisation.
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;
    public double LearningRate { get; set; } = 1e-3;
    public double Momentum { get; set; } = 0.9;
    /// <summary>L2 penalty for SGD and Adadelta; AdamW's decoupled decay for Adam, where values of 0.01–0.05 are usual
    /// (the 5e-4 default is SSD's SGD value, and barely regularises AdamW).</summary>
    public double WeightDecay { get; set; } = 5e-4;
    public int WarmupSteps { get; set; } = 100;
    public LearningRateDecay LearningRateDecay { get; set; } = LearningRateDecay.Cosine;
    public int BatchSize { get; set; } = 8;
    /// <summary>Largest gradient norm before an optimizer step (null: no clipping).</summary>
    public double? GradientClipNorm { get; set; } = 10.0;
    /// <summary>Passes over the training data; ignored when <see cref="MaxSteps"/> is set.</summary>
    public int Epochs { get; set; } = 30;
    /// <summary>Total optimizer steps, when set (overrides <see cref="Epochs"/>).</summary>
    public int? MaxSteps { get; set; }
    /// <summary>When set, validation and export use an exponential moving average of the weights with this decay (e.g.
    /// 0.999, an average over about the last thousand steps; torchvision's <c>--model-ema</c>) instead of the last
    /// step's weights, which carry that step's mini-batch noise. Null (the default): the last weights.</summary>
    public double? ModelEmaDecay { get; set; }
    /// <summary>Training-time augmentation; null turns it off.</summary>
    public DetectionAugmentation? Augmentation { get; set; } = new();
    public int Seed { get; set; } = 1;
    public DeviceSelection Device { get; set; } = DeviceSelection.Auto;
    /// <summary>Threads libtorch may use on the CPU; null leaves its default.</summary>
    public int? CpuThreads { get; set; }

    // Validation and early stopping.
    public IDataView? ValidationData { get; set; }
    /// <summary>Stop after this many validated epochs without a better validation mAP@0.5; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; set; }
    /// <summary>Validate every this many epochs.</summary>
    public int ValidateEveryEpochs { get; set; } = 1;
    /// <summary>With validation data: return the model that scored best on it (true, the default; Keras's
    /// <c>restore_best_weights</c>) or the last weights (false; their average with <see cref="ModelEmaDecay"/>), validation
    /// then only reporting progress and stopping early.
    /// On a small validation set the best score is partly luck: at the end of a decaying learning rate the last weights are
    /// usually as good, and picking an earlier model by a noisy score can cost more than it gains.</summary>
    public bool ReturnBestValidatedModel { get; set; } = true;

    // Checkpoints.
    /// <summary>Folder for atomic checkpoints; training resumes from the latest one there. Null: no checkpoints.</summary>
    public string? CheckpointFolder { get; set; }
    public int CheckpointEverySteps { get; set; } = 200;

    // Post-processing, carried in the exported model.
    public float ScoreThreshold { get; set; } = 0.05f;
    public float NmsIouThreshold { get; set; } = 0.45f;
    public int MaxDetections { get; set; } = 100;

    /// <summary>Receives a report after every step.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
        }
        foreach (var (name, value) in new[] { (nameof(ImagePathColumn), ImagePathColumn), (nameof(BoxesColumn), BoxesColumn), (nameof(LabelsColumn), LabelsColumn) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must name a column.", name);
        Check(WidthMultiplier > 0, nameof(WidthMultiplier), WidthMultiplier, "must be positive");
        if (BackboneWeightsPath != null)
        {
            if (Backbone != DetectorBackbone.ResNet18)
                throw new ArgumentException($"{nameof(BackboneWeightsPath)} loads torchvision ResNet-18 weights, but {nameof(Backbone)} is {Backbone}; set {nameof(Backbone)} to {nameof(DetectorBackbone.ResNet18)} or leave {nameof(BackboneWeightsPath)} null.", nameof(BackboneWeightsPath));
            if (!File.Exists(BackboneWeightsPath))
                throw new FileNotFoundException($"{nameof(BackboneWeightsPath)} '{BackboneWeightsPath}' does not exist. Give the path of a .safetensors file with torchvision resnet18 key names, or leave it null for random weights.", BackboneWeightsPath);
        }
        Check(InputWidth >= 32 && InputWidth <= 4096, nameof(InputWidth), InputWidth, "must be within 32..4096 pixels");
        Check(InputHeight >= 32 && InputHeight <= 4096, nameof(InputHeight), InputHeight, "must be within 32..4096 pixels");
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
        Check(LearningRate > 0, nameof(LearningRate), LearningRate, "must be positive");
        Check(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be within [0, 1)");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be >= 0");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be >= 0");
        Check(ModelEmaDecay is null || (ModelEmaDecay > 0 && ModelEmaDecay < 1), nameof(ModelEmaDecay), ModelEmaDecay, "must be within (0, 1) when set");
        Check(GradientClipNorm is null or > 0, nameof(GradientClipNorm), GradientClipNorm, "must be positive when set");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(MaxSteps is null or >= 1, nameof(MaxSteps), MaxSteps, "must be at least 1 when set");
        Check(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be at least 1 when set");
        Check(ValidateEveryEpochs >= 1, nameof(ValidateEveryEpochs), ValidateEveryEpochs, "must be at least 1");
        Check(CheckpointEverySteps >= 1, nameof(CheckpointEverySteps), CheckpointEverySteps, "must be at least 1");
        Check(ScoreThreshold >= 0 && ScoreThreshold < 1, nameof(ScoreThreshold), ScoreThreshold, "must be within [0, 1)");
        Check(NmsIouThreshold > 0 && NmsIouThreshold <= 1, nameof(NmsIouThreshold), NmsIouThreshold, "must be within (0, 1]");
        Check(MaxDetections >= 1, nameof(MaxDetections), MaxDetections, "must be at least 1");
        Check(CpuThreads is null or >= 1, nameof(CpuThreads), CpuThreads, "must be at least 1 when set");
    }

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal string Fingerprint(IReadOnlyList<string> classNames)
        => $"{Architecture}|{Backbone}|{WidthMultiplier}|{InputWidth}x{InputHeight}|gray={Grayscale}|{Normalization}|grid={GridSize}|fusion={TopDownFusion}|" +
           $"scales={MinScale},{MaxScale}|ignore={IgnoreIouThreshold}|ar={string.Join(";", AspectRatios.Select(a => string.Join(",", a)))}|" +
           $"{Optimizer}|lr={LearningRate}|bs={BatchSize}|ema={ModelEmaDecay}|classes={string.Join(",", classNames)}";
}
