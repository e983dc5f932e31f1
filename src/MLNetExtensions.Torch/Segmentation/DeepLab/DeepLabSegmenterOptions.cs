using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>Backbones a DeepLab segmenter can be built on.</summary>
public enum SegmentationBackboneKind
{
    /// <summary><see cref="ResNetLiteBackbone"/>: a small atrous ResNet that trains in minutes on a CPU.</summary>
    ResNetLite,
    /// <summary>torchvision's ResNet-18 (<see cref="ResNetSegmentationBackbone"/>); torchvision weights load with <see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/>.</summary>
    ResNet18,
    /// <summary>torchvision's ResNet-34 (<see cref="ResNetSegmentationBackbone"/>); torchvision weights load with <see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/>.</summary>
    ResNet34,
    /// <summary>torchvision's ResNet-50 (<see cref="ResNetSegmentationBackbone"/>, bottleneck blocks); torchvision weights load with <see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/>.</summary>
    ResNet50,
    /// <summary>torchvision's MobileNetV2 (<see cref="MobileNetV2SegmentationBackbone"/>, depthwise separable); torchvision weights load with <see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/>.</summary>
    MobileNetV2,
}

/// <summary>
/// Options of <see cref="DeepLabSegmenterEstimator"/>. Defaults live here and nowhere else; <see cref="Validate"/>
/// checks them all when the estimator is made, so a bad option fails before any data is read.
/// </summary>
public sealed record DeepLabSegmenterOptions : TrainerOptions
{
    /// <summary>SGD (momentum 0.9) at 0.01 with weight decay 1e-4 and the poly decay, as in the DeepLab papers.</summary>
    public DeepLabSegmenterOptions() : base(OptimizerKind.Sgd, learningRate: 0.01, weightDecay: 1e-4, warmupSteps: 0, LearningRateDecay.Poly) { }

    // Columns (the segmentation schema).
    public string ImagePathColumn { get; set; } = SegmentationColumns.ImagePath;
    public string MaskPathColumn { get; set; } = SegmentationColumns.MaskPath;
    /// <summary>Class names, index i naming mask value i (0 = background); null: "0".."K-1" with K the largest index in the training masks plus one.</summary>
    public IReadOnlyList<string>? ClassNames { get; set; }

    // Network.
    public SegmentationBackboneKind Backbone { get; set; } = SegmentationBackboneKind.ResNetLite;
    /// <summary>
    /// Scales every backbone channel count: ResNetLite's; MobileNetV2's as torchvision's <c>width_mult</c> (the last
    /// 1×1 conv keeps 1280 channels below 1); ResNet18/34/50's base width 64 (layerK gets 64·w·2^(K-1) channels,
    /// rounded to a multiple of 8). torchvision's weights need 1.
    /// </summary>
    public float WidthMultiplier { get; set; } = 1f;
    /// <summary>16 (the paper's training setting) or 8 (finer, slower).</summary>
    public int OutputStride { get; set; } = 16;
    /// <summary>ASPP rates; null: (6, 12, 18) at output stride 16, doubled at 8. On small inputs the large rates see mostly
    /// padding; smaller rates are allowed but not the standard.</summary>
    public IReadOnlyList<int>? AtrousRates { get; set; }
    /// <summary>Channels of ASPP and the decoder (256 in the paper); a multiple of 8.</summary>
    public int AsppChannels { get; set; } = 256;
    /// <summary>Channels the low-level features are projected to (48 in the paper); a multiple of 8.</summary>
    public int LowLevelChannels { get; set; } = 48;
    public double Dropout { get; set; } = 0.1;
    /// <summary>Images are stretched to this size (as the scoring chain does); masks by nearest neighbour.</summary>
    public int InputWidth { get; set; } = 512;
    public int InputHeight { get; set; } = 512;
    public bool Grayscale { get; set; }
    public PixelNormalization Normalization { get; set; } = PixelNormalization.MinusOneToOne;
    /// <summary>
    /// With <see cref="FreezeBackbone"/>, for comparison only: the frozen stages' BatchNorm normalises with mini-batch
    /// statistics in training and with its (untouched) running statistics at inference, as Keras before 2.1.3 did for
    /// <c>trainable = False</c> — the fine-tuning failure this library's frozen BatchNorm avoids. False: frozen stages
    /// stay in eval mode.
    /// </summary>
    public bool FrozenBatchNormUsesBatchStatistics { get; set; }
    /// <summary>
    /// ResNet18/34/50 and MobileNetV2 only. For ResNet18, <see cref="Weights.PretrainedBackbone.ImageNetResNet18"/>
    /// (ML.NET's ImageNet ResNet-18, an <c>.onnx</c> file, with <see cref="PixelNormalization.ImageNetMeanSubtraction"/>).
    /// Otherwise a .safetensors file with torchvision's key names (e.g. ImageNet weights
    /// saved with <c>safetensors.torch.save_file(torchvision.models.resnet18(weights=...).state_dict(), path)</c>)
    /// loaded into the backbone when the network is created, before training; torchvision's classifier keys
    /// (<c>fc.*</c>, <c>classifier.*</c>) are skipped. Every other key must be there with the backbone's shape
    /// (torchvision's weights need WidthMultiplier 1 and RGB input). Null: random initialisation. A checkpoint being
    /// resumed replaces these weights.
    /// </summary>
    public string? BackboneWeightsPath { get; set; }

    // Loss.
    public SegmentationLossKind Loss { get; set; } = SegmentationLossKind.CrossEntropy;
    /// <summary>Weight of Dice in <see cref="SegmentationLossKind.CrossEntropyAndDice"/>.</summary>
    public double DiceWeight { get; set; } = 1.0;
    /// <summary>Optional weight per class (one per class name).</summary>
    public IReadOnlyList<float>? ClassWeights { get; set; }

    /// <summary>Training-time augmentation; null turns it off.</summary>
    public SegmentationAugmentation? Augmentation { get; set; } = new();

    /// <inheritdoc/>
    public override void Validate()
    {
        Check(BatchSize >= 2, nameof(BatchSize), BatchSize, "must be at least 2 (BatchNorm of the image pooling branch needs more than one value per channel)");
        base.Validate();
        foreach (var (name, value) in new[] { (nameof(ImagePathColumn), ImagePathColumn), (nameof(MaskPathColumn), MaskPathColumn) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must name a column.", name);
        if (ClassNames != null && (ClassNames.Count < 2 || ClassNames.Count > SegmentationColumns.IgnoreIndex || ClassNames.Any(string.IsNullOrWhiteSpace) || ClassNames.Distinct().Count() != ClassNames.Count))
            throw new ArgumentException($"{nameof(ClassNames)} needs 2 to {SegmentationColumns.IgnoreIndex} distinct, non-blank names (background first); got [{string.Join(", ", ClassNames)}].", nameof(ClassNames));
        Check(Enum.IsDefined(Backbone), nameof(Backbone), Backbone, "is unknown");
        Check(WidthMultiplier > 0 && float.IsFinite(WidthMultiplier), nameof(WidthMultiplier), WidthMultiplier, "must be positive");
        if (BackboneWeightsPath != null)
        {
            if (Backbone == SegmentationBackboneKind.ResNetLite)
                throw new ArgumentException($"{nameof(BackboneWeightsPath)} loads torchvision weights, but {nameof(Backbone)} is {Backbone}, which has no torchvision counterpart; set {nameof(Backbone)} to ResNet18, ResNet34, ResNet50 or MobileNetV2, or leave {nameof(BackboneWeightsPath)} null.", nameof(BackboneWeightsPath));
            if (!File.Exists(BackboneWeightsPath))
                throw new FileNotFoundException($"{nameof(BackboneWeightsPath)} '{BackboneWeightsPath}' does not exist. Give the path of a .safetensors file with torchvision {Backbone.ToString().ToLowerInvariant().Replace("mobilenetv2", "mobilenet_v2")} key names, or leave it null for random weights.", BackboneWeightsPath);
        }
        Check(OutputStride is 8 or 16, nameof(OutputStride), OutputStride, "must be 8 or 16");
        if (AtrousRates != null && (AtrousRates.Count == 0 || AtrousRates.Any(r => r < 1)))
            throw new ArgumentException($"{nameof(AtrousRates)} needs at least one rate, each at least 1; got [{string.Join(", ", AtrousRates)}].", nameof(AtrousRates));
        // Multiples of 8: libtorch 2.10's CPU 3×3 convolution gives batch-dependent results for some other channel counts.
        Check(AsppChannels >= 8 && AsppChannels % 8 == 0, nameof(AsppChannels), AsppChannels, "must be a positive multiple of 8");
        Check(LowLevelChannels >= 8 && LowLevelChannels % 8 == 0, nameof(LowLevelChannels), LowLevelChannels, "must be a positive multiple of 8");
        Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be within [0, 1)");
        Check(InputWidth >= 32 && InputWidth <= 4096, nameof(InputWidth), InputWidth, "must be within 32..4096 pixels");
        Check(InputHeight >= 32 && InputHeight <= 4096, nameof(InputHeight), InputHeight, "must be within 32..4096 pixels");
        Check(Enum.IsDefined(Normalization), nameof(Normalization), Normalization, "is unknown");
        PretrainedBackbone.CheckTrainerOptions(BackboneWeightsPath, Backbone, Backbone == SegmentationBackboneKind.ResNet18, Normalization, Grayscale);
        if (FrozenBatchNormUsesBatchStatistics && !FreezeBackbone)
            throw new ArgumentException($"{nameof(FrozenBatchNormUsesBatchStatistics)} is set but {nameof(FreezeBackbone)} is false; it changes how frozen stages normalise, so set {nameof(FreezeBackbone)} too.", nameof(FrozenBatchNormUsesBatchStatistics));
        Check(Enum.IsDefined(Loss), nameof(Loss), Loss, "is unknown");
        Check(DiceWeight >= 0, nameof(DiceWeight), DiceWeight, "must be >= 0");
        if (ClassWeights != null && ClassNames != null && ClassWeights.Count != ClassNames.Count)
            throw new ArgumentException($"{nameof(ClassWeights)} has {ClassWeights.Count} values for {ClassNames.Count} classes.", nameof(ClassWeights));
        if (ClassWeights != null && (ClassWeights.Any(w => !(w >= 0) || !float.IsFinite(w)) || ClassWeights.All(w => w == 0)))
            throw new ArgumentException($"{nameof(ClassWeights)} must be finite, non-negative and not all zero; got [{string.Join(", ", ClassWeights)}].", nameof(ClassWeights));
        Augmentation?.Validate();
    }

    /// <summary>The named run settings for a checkpoint's fingerprint (loss, augmentation, backbone weights).</summary>
    internal IEnumerable<(string Name, object? Value)> FingerprintSettings() =>
    [
        (nameof(DiceWeight), DiceWeight), (nameof(ClassWeights), ClassWeights), (nameof(Dropout), Dropout),
        (nameof(Augmentation), Augmentation), (nameof(BackboneWeightsPath), BackboneWeightsPath),
    ];

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal string Fingerprint(IReadOnlyList<string> classNames)
        => $"deeplabv3plus|{Backbone}|{WidthMultiplier}|os={OutputStride}|rates={string.Join(",", AtrousRates ?? DeepLabNetwork.DefaultRates(OutputStride))}|" +
           $"aspp={AsppChannels}|low={LowLevelChannels}|{InputWidth}x{InputHeight}|gray={Grayscale}|{Normalization}|" +
           $"freeze={FreezeBackbone}:{FreezeBackboneUpTo}{(FrozenBatchNormUsesBatchStatistics ? ":batch-statistics" : "")}|{Loss}|{OptimizationFingerprint}|{(ModelEmaDecay is null ? "" : $"ema={ModelEmaDecay}|")}classes={string.Join(",", classNames)}";
}
