using MLNetExtensions.Data;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Options of <see cref="FasterRcnnDetectorEstimator"/>, named after torchvision's <c>FasterRCNN</c> arguments where they
/// mean the same (<c>rpn_pre_nms_top_n_train</c> → <see cref="RpnPreNmsTopNTrain"/>, <c>box_score_thresh</c> →
/// <see cref="BoxScoreThreshold"/>, ...). Defaults live here and nowhere else; <see cref="Validate"/> checks them all
/// when the estimator is made, so a bad option fails before any data is read.
/// </summary>
public sealed record FasterRcnnDetectorOptions : DetectorTrainerOptions
{
    /// <summary>AdamW at 1e-3 with weight decay 1e-4, 100 warmup steps and a cosine decay (torchvision's reference
    /// recipe is SGD at 0.02 for 16 images from an ImageNet backbone; from scratch on a CPU AdamW converges sooner).</summary>
    public FasterRcnnDetectorOptions() : base(OptimizerKind.Adam, learningRate: 1e-3, weightDecay: 1e-4, warmupSteps: 100, LearningRateDecay.Cosine) { }

    // Network.
    /// <summary>Stride of the feature map both stages use: 16 (the original C4 map), or 8 with the stride-16 features
    /// added top-down (an FPN-style single level, for small objects). With <see cref="Fpn"/>: the finest pyramid level,
    /// 8 or 16, or 4 for the ResNet18 backbone (its layer1).</summary>
    public int FeatureStride { get; set; } = 16;

    /// <summary>
    /// A feature pyramid (torchvision's <c>fasterrcnn_*_fpn</c>): the trunk maps from <see cref="FeatureStride"/> to 16
    /// through an FPN (1×1 laterals, top-down nearest upsampling, 3×3 outputs, <see cref="FpnOutChannels"/> wide) and a
    /// stride-2 max-pool of the coarsest output; the RPN's shared head runs on every level with one anchor size per
    /// level (<see cref="AnchorSizes"/>), proposals are filtered per level, and each RoI is pooled from the level its size
    /// maps to (<see cref="RoiCanonicalScale"/>). Off by default: one feature map.
    /// </summary>
    public bool Fpn { get; set; }

    /// <summary>Channels of every FPN level, and so of the RPN head and the pooled RoIs (torchvision: 256; 128 halves the
    /// box head's first layer for CPU training). Used with <see cref="Fpn"/> only.</summary>
    public int FpnOutChannels { get; set; } = 128;

    /// <summary>The √area (input pixels) of a RoI pooled from the stride-16 level (torchvision's MultiScaleRoIAlign
    /// <c>canonical_scale</c>, 224; level k0 = 4); one of half that size comes from the level of half the stride, clamped
    /// to the pyramid. With small inputs, lower it to use the coarser levels. Used with <see cref="Fpn"/> only.</summary>
    public int RoiCanonicalScale { get; set; } = 224;

    // Anchors (torchvision's AnchorGenerator): sizes × aspect ratios per location.
    /// <summary>Anchor sizes in input pixels (√area); three sizes × three ratios give the paper's 9 anchors per location.
    /// With <see cref="Fpn"/>: one size per level, finest first (the default fits <see cref="FeatureStride"/> 8: strides
    /// 8, 16 and the max-pooled 32), so 3 anchors per location.</summary>
    public float[] AnchorSizes { get; set; } = [32f, 64f, 128f];
    /// <summary>Anchor aspect ratios (height / width).</summary>
    public float[] AnchorAspectRatios { get; set; } = [0.5f, 1f, 2f];

    // Region proposal network.
    public int RpnPreNmsTopNTrain { get; set; } = 2000;
    public int RpnPreNmsTopNTest { get; set; } = 1000;
    public int RpnPostNmsTopNTrain { get; set; } = 2000;
    /// <summary>Proposals per image at inference; also the fixed proposal count of the exported graph.</summary>
    public int RpnPostNmsTopNTest { get; set; } = 1000;
    public float RpnNmsThreshold { get; set; } = 0.7f;
    /// <summary>Anchors with IoU ≥ this with an object are positive (as is each object's best anchor).</summary>
    public float RpnFgIouThreshold { get; set; } = 0.7f;
    /// <summary>Anchors whose best IoU is below this are negative; those in between are neutral (in no loss, no accuracy).</summary>
    public float RpnBgIouThreshold { get; set; } = 0.3f;
    public int RpnBatchSizePerImage { get; set; } = 256;
    public float RpnPositiveFraction { get; set; } = 0.5f;

    // RoI heads.
    /// <summary>RoI Align output size (7 × 7 in the paper).</summary>
    public int RoiOutputSize { get; set; } = 7;
    /// <summary>RoI Align samples per bin and axis; 0: ceil(bin size), adaptive.</summary>
    public int RoiSamplingRatio { get; set; } = 2;
    /// <summary>Width of the two fully connected layers of the box head (1024 in torchvision).</summary>
    public int RepresentationSize { get; set; } = 1024;
    public float BoxFgIouThreshold { get; set; } = 0.5f;
    public float BoxBgIouThreshold { get; set; } = 0.5f;
    public int BoxBatchSizePerImage { get; set; } = 512;
    public float BoxPositiveFraction { get; set; } = 0.25f;

    // Post-processing, carried in the exported model.
    /// <summary>Lowest class probability a detection keeps (must be above 0: candidates of other classes score 0).</summary>
    public float BoxScoreThreshold { get; set; } = 0.05f;
    public float BoxNmsThreshold { get; set; } = 0.5f;
    public int BoxDetectionsPerImage { get; set; } = 100;


    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!Fpn) Check(FeatureStride is 8 or 16, nameof(FeatureStride), FeatureStride, "must be 8 or 16 (4 with Fpn and the ResNet18 backbone)");
        else if (Backbone == DetectorBackbone.ResNet18) Check(FeatureStride is 4 or 8 or 16, nameof(FeatureStride), FeatureStride, "must be 4, 8 or 16 with Fpn (the finest pyramid level)");
        else Check(FeatureStride is 8 or 16, nameof(FeatureStride), FeatureStride, $"must be 8 or 16 with Fpn on {Backbone} (4 needs the ResNet18 backbone's layer1)");
        Check(FpnOutChannels >= 1, nameof(FpnOutChannels), FpnOutChannels, "must be at least 1");
        Check(RoiCanonicalScale >= 1, nameof(RoiCanonicalScale), RoiCanonicalScale, "must be at least 1 pixel");
        if (AnchorSizes is null || AnchorSizes.Length == 0 || AnchorSizes.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException($"{nameof(AnchorSizes)} needs at least one positive size in input pixels; got [{string.Join(", ", AnchorSizes ?? [])}].", nameof(AnchorSizes));
        if (Fpn && FasterRcnnNetwork.FpnStrides(FeatureStride) is var strides && AnchorSizes.Length != strides.Length)
            throw new ArgumentException($"With {nameof(Fpn)}, {nameof(AnchorSizes)} gives one size per pyramid level: {nameof(FeatureStride)} {FeatureStride} has {strides.Length} levels " +
                $"(strides {string.Join(", ", strides)}, the last max-pooled), so {strides.Length} sizes, e.g. [{string.Join(", ", strides.Select(s => 4 * s))}]; got {AnchorSizes.Length} ([{string.Join(", ", AnchorSizes)}]).", nameof(AnchorSizes));
        if (AnchorAspectRatios is null || AnchorAspectRatios.Length == 0 || AnchorAspectRatios.Any(r => !(r > 0) || !float.IsFinite(r)))
            throw new ArgumentException($"{nameof(AnchorAspectRatios)} needs at least one positive ratio (height / width); got [{string.Join(", ", AnchorAspectRatios ?? [])}].", nameof(AnchorAspectRatios));
        foreach (var (name, value) in new[] { (nameof(RpnPreNmsTopNTrain), RpnPreNmsTopNTrain), (nameof(RpnPreNmsTopNTest), RpnPreNmsTopNTest),
                     (nameof(RpnPostNmsTopNTrain), RpnPostNmsTopNTrain), (nameof(RpnPostNmsTopNTest), RpnPostNmsTopNTest),
                     (nameof(RpnBatchSizePerImage), RpnBatchSizePerImage), (nameof(BoxBatchSizePerImage), BoxBatchSizePerImage),
                     (nameof(RoiOutputSize), RoiOutputSize), (nameof(RepresentationSize), RepresentationSize), (nameof(BoxDetectionsPerImage), BoxDetectionsPerImage) })
            Check(value >= 1, name, value, "must be at least 1");
        Check(RoiSamplingRatio >= 0, nameof(RoiSamplingRatio), RoiSamplingRatio, "must be >= 0 (0: adaptive)");
        Check(RpnNmsThreshold > 0 && RpnNmsThreshold <= 1, nameof(RpnNmsThreshold), RpnNmsThreshold, "must be within (0, 1]");
        Check(RpnFgIouThreshold > 0 && RpnFgIouThreshold <= 1, nameof(RpnFgIouThreshold), RpnFgIouThreshold, "must be within (0, 1]");
        Check(RpnBgIouThreshold > 0 && RpnBgIouThreshold <= RpnFgIouThreshold, nameof(RpnBgIouThreshold), RpnBgIouThreshold, $"must be within (0, {nameof(RpnFgIouThreshold)} = {RpnFgIouThreshold}]");
        Check(RpnPositiveFraction > 0 && RpnPositiveFraction <= 1, nameof(RpnPositiveFraction), RpnPositiveFraction, "must be within (0, 1]");
        Check(BoxFgIouThreshold > 0 && BoxFgIouThreshold <= 1, nameof(BoxFgIouThreshold), BoxFgIouThreshold, "must be within (0, 1]");
        Check(BoxBgIouThreshold > 0 && BoxBgIouThreshold <= BoxFgIouThreshold, nameof(BoxBgIouThreshold), BoxBgIouThreshold, $"must be within (0, {nameof(BoxFgIouThreshold)} = {BoxFgIouThreshold}]");
        Check(BoxPositiveFraction > 0 && BoxPositiveFraction <= 1, nameof(BoxPositiveFraction), BoxPositiveFraction, "must be within (0, 1]");
        Check(BoxScoreThreshold > 0 && BoxScoreThreshold < 1, nameof(BoxScoreThreshold), BoxScoreThreshold, "must be within (0, 1): the candidates of the other classes score 0");
        Check(BoxNmsThreshold > 0 && BoxNmsThreshold <= 1, nameof(BoxNmsThreshold), BoxNmsThreshold, "must be within (0, 1]");
    }

    private protected override IEnumerable<(string Name, object? Value)> FamilyFingerprintSettings() =>
    [
        (nameof(RpnPreNmsTopNTrain), RpnPreNmsTopNTrain), (nameof(RpnPreNmsTopNTest), RpnPreNmsTopNTest),
        (nameof(RpnPostNmsTopNTrain), RpnPostNmsTopNTrain), (nameof(RpnPostNmsTopNTest), RpnPostNmsTopNTest),
        (nameof(RpnNmsThreshold), RpnNmsThreshold), (nameof(RpnFgIouThreshold), RpnFgIouThreshold), (nameof(RpnBgIouThreshold), RpnBgIouThreshold),
        (nameof(RpnBatchSizePerImage), RpnBatchSizePerImage), (nameof(RpnPositiveFraction), RpnPositiveFraction),
        (nameof(BoxFgIouThreshold), BoxFgIouThreshold), (nameof(BoxBgIouThreshold), BoxBgIouThreshold),
        (nameof(BoxBatchSizePerImage), BoxBatchSizePerImage), (nameof(BoxPositiveFraction), BoxPositiveFraction),
        (nameof(BoxScoreThreshold), BoxScoreThreshold), (nameof(BoxNmsThreshold), BoxNmsThreshold), (nameof(BoxDetectionsPerImage), BoxDetectionsPerImage),
    ];

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal override string Fingerprint(IReadOnlyList<string> classNames)
        => $"faster-rcnn|{Backbone}|{WidthMultiplier}|stride={FeatureStride}|{(Fpn ? $"fpn={FpnOutChannels}:{RoiCanonicalScale}|" : "")}{InputWidth}x{InputHeight}|gray={Grayscale}|{Normalization}|" +
           $"anchors={string.Join(",", AnchorSizes)}:{string.Join(",", AnchorAspectRatios)}|rep={RepresentationSize}|roi={RoiOutputSize}:{RoiSamplingRatio}|" +
           $"{FreezeFingerprint}{OptimizationFingerprint}|ema={ModelEmaDecay}|classes={string.Join(",", classNames)}";

    internal RegionProposalNetwork.RpnSettings RpnSettings => new(RpnPreNmsTopNTrain, RpnPreNmsTopNTest, RpnPostNmsTopNTrain, RpnPostNmsTopNTest,
        RpnNmsThreshold, RpnFgIouThreshold, RpnBgIouThreshold, RpnBatchSizePerImage, RpnPositiveFraction);

    internal RoiHeads.RoiSettings RoiSettings => new(RoiOutputSize, RoiSamplingRatio, Aligned: true, RepresentationSize,
        BoxFgIouThreshold, BoxBgIouThreshold, BoxBatchSizePerImage, BoxPositiveFraction, CanonicalScale: RoiCanonicalScale);

    internal override string LogSource => nameof(FasterRcnnDetectorEstimator);
    internal override float DetectionScoreThreshold => BoxScoreThreshold;
    internal override float DetectionNmsThreshold => BoxNmsThreshold;
    internal override int DetectionsPerImage => BoxDetectionsPerImage;

    internal override Dictionary<string, string> ExportMetadata()
    {
        var metadata = new Dictionary<string, string>
        {
            ["architecture"] = "FasterRcnn",
            ["backbone"] = Backbone.ToString(),
            ["normalization"] = Normalization.ToString(),
            ["feature_stride"] = FeatureStride.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["max_detections"] = BoxDetectionsPerImage.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (Fpn) metadata["fpn_strides"] = string.Join(",", FasterRcnnNetwork.FpnStrides(FeatureStride));
        return metadata;
    }

    internal override IDetectorModel CreateModel(int classCount, Device device) => new FasterRcnnDetectorModel(this, classCount, device);
}
