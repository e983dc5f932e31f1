using MLNetExtensions.Data;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// What every detector's options have beyond <see cref="TrainerOptions"/>: the detection schema's columns, the
/// backbone and its weights, the input and its normalisation, and the augmentation. <see cref="SsdDetectorOptions"/>
/// and <see cref="FasterRcnnDetectorOptions"/> derive from it; the members only this library implements say what the
/// shared detector training task needs from a family (its model, export metadata, checkpoint fingerprint).
/// </summary>
public abstract record DetectorTrainerOptions : TrainerOptions
{
    private protected DetectorTrainerOptions(OptimizerKind optimizer, double learningRate, double weightDecay, int warmupSteps, LearningRateDecay learningRateDecay)
        : base(optimizer, learningRate, weightDecay, warmupSteps, learningRateDecay) { }

    // Columns (the data layer's schema).
    public string ImagePathColumn { get; set; } = DetectionColumns.ImagePath;
    public string BoxesColumn { get; set; } = DetectionColumns.Boxes;
    public string LabelsColumn { get; set; } = DetectionColumns.Labels;

    // Network.
    public DetectorBackbone Backbone { get; set; } = DetectorBackbone.VggLite;
    /// <summary>Scales every backbone layer's channel count (1 = the published widths).</summary>
    public float WidthMultiplier { get; set; } = 1f;
    /// <summary>
    /// ResNet18 backbone only: ImageNet weights loaded when the network is created, either
    /// <see cref="PretrainedBackbone.ImageNetResNet18"/> (ML.NET's ResNet-18, an <c>.onnx</c> file; needs
    /// <see cref="PixelNormalization.ImageNetMeanSubtraction"/>) or a .safetensors file with torchvision's resnet18 key
    /// names (e.g. saved with <c>safetensors.torch.save_file(resnet18(weights=...).state_dict(), path)</c>; use
    /// <see cref="PixelNormalization.ImageNet"/>). Its <c>fc.*</c> and <c>layer4.*</c> keys are skipped. Needs
    /// WidthMultiplier 1 and RGB input. Null: random initialisation. A checkpoint being resumed replaces these weights.
    /// </summary>
    public string? BackboneWeightsPath { get; set; }
    public int InputWidth { get; set; } = 300;
    public int InputHeight { get; set; } = 300;
    public bool Grayscale { get; set; }
    public PixelNormalization Normalization { get; set; } = PixelNormalization.PerImageStandardization;

    /// <summary>Training-time augmentation; null turns it off.</summary>
    public DetectionAugmentation? Augmentation { get; set; } = new();

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        foreach (var (name, value) in new[] { (nameof(ImagePathColumn), ImagePathColumn), (nameof(BoxesColumn), BoxesColumn), (nameof(LabelsColumn), LabelsColumn) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must name a column.", name);
        Check(Enum.IsDefined(Backbone), nameof(Backbone), Backbone, "is unknown");
        Check(Enum.IsDefined(Normalization), nameof(Normalization), Normalization, "is unknown");
        Check(WidthMultiplier > 0 && float.IsFinite(WidthMultiplier), nameof(WidthMultiplier), WidthMultiplier, "must be positive");
        if (BackboneWeightsPath != null)
        {
            if (Backbone != DetectorBackbone.ResNet18)
                throw new ArgumentException($"{nameof(BackboneWeightsPath)} loads torchvision ResNet-18 weights, but {nameof(Backbone)} is {Backbone}; set {nameof(Backbone)} to {nameof(DetectorBackbone.ResNet18)} or leave {nameof(BackboneWeightsPath)} null.", nameof(BackboneWeightsPath));
            if (!File.Exists(BackboneWeightsPath))
                throw new FileNotFoundException($"{nameof(BackboneWeightsPath)} '{BackboneWeightsPath}' does not exist. Give PretrainedBackbone.ImageNetResNet18, the path of a .safetensors file with torchvision resnet18 key names, or leave it null for random weights.", BackboneWeightsPath);
        }
        PretrainedBackbone.CheckTrainerOptions(BackboneWeightsPath, Backbone, Backbone == DetectorBackbone.ResNet18, Normalization, Grayscale);
        if (FreezeBackboneUpTo != null && !SsdBackbone.StageNamesOf(Backbone).Contains(FreezeBackboneUpTo))
            throw new ArgumentException($"{nameof(FreezeBackboneUpTo)} is '{FreezeBackboneUpTo}', but the {Backbone} backbone has no such stage. Its stages are: {string.Join(", ", SsdBackbone.StageNamesOf(Backbone))}.", nameof(FreezeBackboneUpTo));
        Check(InputWidth >= 32 && InputWidth <= 4096, nameof(InputWidth), InputWidth, "must be within 32..4096 pixels");
        Check(InputHeight >= 32 && InputHeight <= 4096, nameof(InputHeight), InputHeight, "must be within 32..4096 pixels");
    }

    /// <summary>Where log messages come from (the estimator's name).</summary>
    internal abstract string LogSource { get; }

    /// <summary>Lowest score a detection keeps, carried in the exported model.</summary>
    internal abstract float DetectionScoreThreshold { get; }

    /// <summary>IoU of the final class-aware NMS, carried in the exported model.</summary>
    internal abstract float DetectionNmsThreshold { get; }

    /// <summary>Most detections per image, carried in the exported model.</summary>
    internal abstract int DetectionsPerImage { get; }

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal abstract string Fingerprint(IReadOnlyList<string> classNames);

    /// <summary>The family's named run settings for a checkpoint's fingerprint (loss, matching, post-processing); the
    /// shared detector ones (augmentation, backbone weights) come first.</summary>
    internal IEnumerable<(string Name, object? Value)> FingerprintSettings()
        => new (string, object?)[] { (nameof(Augmentation), Augmentation), (nameof(BackboneWeightsPath), BackboneWeightsPath) }.Concat(FamilyFingerprintSettings());

    /// <summary>The family's own named run settings (loss, matching, post-processing).</summary>
    private protected abstract IEnumerable<(string Name, object? Value)> FamilyFingerprintSettings();

    /// <summary>The frozen stages in a <see cref="Fingerprint"/>: empty when nothing is frozen, so older checkpoints still match.</summary>
    private protected string FreezeFingerprint => FreezeBackbone ? $"freeze={FreezeBackboneUpTo ?? "all"}|" : "";

    /// <summary>The model description written into the ONNX metadata (architecture, backbone, normalisation...).</summary>
    internal abstract Dictionary<string, string> ExportMetadata();

    /// <summary>A new model for <paramref name="classCount"/> classes on <paramref name="device"/>.</summary>
    internal abstract IDetectorModel CreateModel(int classCount, Device device);
}
