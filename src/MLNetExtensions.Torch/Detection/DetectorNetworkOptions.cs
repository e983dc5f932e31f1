using MLNetExtensions.Data;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// What every detector's options have beyond <see cref="TrainerOptions"/>: the detection schema's columns, the
/// backbone and its weights, the input and its normalisation, and the augmentation. <see cref="DetectorTrainerOptions"/>
/// (the one-network detectors SSD and Faster R-CNN) and <see cref="RcnnDetectorOptions"/> (classic R-CNN) derive from it.
/// </summary>
public abstract record DetectorNetworkOptions : TrainerOptions
{
    private protected DetectorNetworkOptions(OptimizerKind optimizer, double learningRate, double weightDecay, int warmupSteps, LearningRateDecay learningRateDecay)
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

    /// <summary>The frozen stages in a fingerprint: empty when nothing is frozen, so older checkpoints still match.</summary>
    private protected string FreezeFingerprint => FreezeBackbone ? $"freeze={FreezeBackboneUpTo ?? "all"}|" : "";

    /// <summary>The named run settings every detector's checkpoint fingerprint starts with (augmentation, backbone weights).</summary>
    private protected IEnumerable<(string Name, object? Value)> NetworkFingerprintSettings()
        => [(nameof(Augmentation), Augmentation), (nameof(BackboneWeightsPath), BackboneWeightsPath)];
}
