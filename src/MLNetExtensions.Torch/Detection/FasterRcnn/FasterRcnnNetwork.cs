using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>The four losses of a Faster R-CNN step and the RPN's accuracy over its sampled anchors.</summary>
public sealed record FasterRcnnLosses(Tensor RpnObjectness, Tensor RpnBox, Tensor RoiClassification, Tensor RoiBox, Tensor RpnAccuracy);

/// <summary>
/// Faster R-CNN (Ren et al. 2015) as torchvision's <c>GeneralizedRCNN</c> composes it: normalisation inside the
/// network, a backbone giving one feature map (stride 16, or stride 8 with the stride-16 features added top-down, an
/// FPN-style single level) or, with an FPN (torchvision's <c>BackboneWithFPN</c>), the trunk maps from the feature
/// stride to 16 through a <see cref="FeaturePyramidNetwork"/>; the <see cref="RegionProposalNetwork"/> (on every
/// pyramid level, the max-pooled one included) and the <see cref="RoiHeads"/> (on the pyramid's own levels). The
/// input size is fixed (the scoring chain resizes to it), so the anchors are constants of the exported graph.
/// </summary>
public sealed class FasterRcnnNetwork : nn.Module
{
    private readonly InputNormalization normalize;
    private readonly SsdBackbone backbone;
    private readonly FeaturePyramidNetwork? fpn;
    private readonly RegionProposalNetwork rpn;
    private readonly RoiHeads roi_heads;
    private readonly int _level;            // one map: the backbone output used (0 stride 8, 1 stride 16)
    private readonly int[] _trunkMaps;      // FPN: the trunk maps it builds on

    /// <param name="featureStride">One map: 8 or 16. With an FPN: its finest level, 4 (ResNet18 only), 8 or 16; the
    /// levels are the trunk's strides from it to 16, and 32 (max-pooled, for the RPN).</param>
    /// <param name="anchors">One map: all its sizes × ratios at every location. With an FPN: one size per level (finest
    /// first, the max-pooled level last) × the ratios.</param>
    /// <param name="fpnOutChannels">Null for one map; the channels of every pyramid level for an FPN.</param>
    public FasterRcnnNetwork(DetectorBackbone backboneKind, int inChannels, int classCount, PixelNormalization normalization, float widthMultiplier,
        string? backboneWeightsPath, int featureStride, int inputHeight, int inputWidth, AnchorGenerator anchors,
        RegionProposalNetwork.RpnSettings rpnSettings, RoiHeads.RoiSettings roiSettings, int? fpnOutChannels = null) : base(nameof(FasterRcnnNetwork))
    {
        ClassCount = classCount;
        InputHeight = inputHeight;
        InputWidth = inputWidth;
        normalize = new InputNormalization(normalization);
        AnchorGenerator[] levelAnchors;
        long channels;
        if (fpnOutChannels is not { } fpnChannels)
        {
            if (featureStride is not (8 or 16)) throw new ArgumentOutOfRangeException(nameof(featureStride), featureStride, "The feature stride must be 8 or 16.");
            _level = featureStride == 8 ? 0 : 1;
            _trunkMaps = [];
            backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath, topDownFusion: featureStride == 8, extraBlocks: 0);
            channels = backbone.OutChannels[_level];
            levelAnchors = [anchors];
        }
        else
        {
            backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath, topDownFusion: false, extraBlocks: 0);
            var strides = backbone.TrunkStrides;
            if (!strides.Contains(featureStride))
                throw new ArgumentOutOfRangeException(nameof(featureStride), featureStride, $"With an FPN the finest level's stride must be one of the {backboneKind} trunk's: {string.Join(", ", strides)}.");
            _trunkMaps = Enumerable.Range(0, strides.Length).Where(i => strides[i] >= featureStride).ToArray();
            fpn = new FeaturePyramidNetwork(_trunkMaps.Select(i => backbone.TrunkChannels[i]).ToArray(), fpnChannels);
            if (anchors.Sizes.Count != fpn.LevelCount)
                throw new ArgumentException($"With an FPN the anchors need one size per level; the {fpn.LevelCount} levels (strides {string.Join(", ", FpnStrides(featureStride))}) got {anchors.Sizes.Count} sizes.", nameof(anchors));
            levelAnchors = anchors.Sizes.Select(size => new AnchorGenerator([size], anchors.AspectRatios)).ToArray();
            channels = fpnChannels;
        }
        var sizes = FeatureSizes(inChannels, inputHeight, inputWidth);
        rpn = new RegionProposalNetwork(channels, levelAnchors, sizes, inputHeight, inputWidth, rpnSettings);
        // torchvision's MultiScaleRoIAlign infers each scale as a power of two: 2^round(log2(feature / image)); the
        // max-pooled level is the RPN's only.
        var scales = sizes.Take(fpn is null ? 1 : sizes.Length - 1).Select(sz => MathF.Pow(2, MathF.Round(MathF.Log2((float)sz.Height / inputHeight)))).ToArray();
        roi_heads = new RoiHeads(channels, classCount, scales, inputHeight, inputWidth, roiSettings);
        ProposalCount = rpn.ProposalCount;
        RegisterComponents();
    }

    /// <summary>Strides of the FPN levels for a finest stride (4, 8 or 16): up to 16, then 32 (max-pooled).</summary>
    public static int[] FpnStrides(int featureStride) => featureStride switch
    {
        4 => [4, 8, 16, 32],
        8 => [8, 16, 32],
        16 => [16, 32],
        _ => throw new ArgumentOutOfRangeException(nameof(featureStride), featureStride, "An FPN's finest stride is 4, 8 or 16."),
    };

    public int ClassCount { get; }
    public int InputHeight { get; }
    public int InputWidth { get; }

    /// <summary>Proposals per image at inference (K): the exported graph's fixed count, padded when NMS keeps fewer.</summary>
    public int ProposalCount { get; }

    public RegionProposalNetwork Rpn => rpn;
    public RoiHeads RoiHeads => roi_heads;

    /// <summary>The pyramid, or null for one feature map.</summary>
    public FeaturePyramidNetwork? Fpn => fpn;

    private (int Height, int Width)[] FeatureSizes(int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool wasTraining = backbone.training;
        backbone.eval();
        fpn?.eval();
        var maps = Maps(zeros(1, channels, height, width));
        backbone.train(wasTraining);
        fpn?.train(wasTraining);
        return maps.Select(m => ((int)m.shape[2], (int)m.shape[3])).ToArray();
    }

    private Tensor[] Maps(Tensor normalized)
    {
        if (fpn is null) return [backbone.call(normalized)[_level]];
        var trunk = backbone.Trunk(normalized);
        return fpn.call(_trunkMaps.Select(i => trunk[i]).ToArray());
    }

    /// <summary>
    /// The feature maps the two stages share, (N, C, H_l, W_l) finest first: the one map, or the FPN's levels and the
    /// max-pooled one last (the RPN uses all, the RoI heads all but the max-pooled).
    /// </summary>
    public Tensor[] Features(Tensor images)
    {
        var x = normalize.call(images);
        return Maps(ChannelsLast ? ChannelsLastLayout.Apply(x) : x);
    }

    /// <summary>Whether the network computes in channels-last memory on the CPU (<see cref="ChannelsLastLayout"/>): the
    /// same values, faster training there. True; false is NCHW, for comparisons.</summary>
    internal bool ChannelsLast { get; set; } = true;

    /// <summary>The maps the RoI heads pool from: all but an FPN's max-pooled level.</summary>
    private Tensor[] RoiMaps(Tensor[] features) => fpn is null ? features : features[..^1];

    /// <summary>Training losses of a batch: (N, C, H, W) raw pixels, per image (G, 4) pixel boxes and (G) 1-based labels.
    /// H × W may differ from the input size (multi-scale training): the anchors follow the maps.</summary>
    public FasterRcnnLosses Loss(Tensor images, IReadOnlyList<Tensor> boxes, IReadOnlyList<Tensor> labels, Generator generator)
    {
        using var scope = NewDisposeScope();
        var features = Features(images);
        var proposals = rpn.Forward(features, ((int)images.shape[2], (int)images.shape[3]), boxes, generator);
        var (classLoss, boxLoss) = roi_heads.Loss(RoiMaps(features), proposals.Boxes, boxes, labels, generator);
        var result = new FasterRcnnLosses(proposals.ObjectnessLoss!, proposals.BoxLoss!, classLoss, boxLoss, proposals.Accuracy!);
        foreach (var t in new[] { result.RpnObjectness, result.RpnBox, result.RoiClassification, result.RoiBox, result.RpnAccuracy }) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Eval-mode outputs in the scoring contract: (N, K·C, 4) boxes relative to the input and (N, K·C, C) scores (see
    /// <see cref="RoiHeads.Predict"/>), from the K best proposals of each image (padded with empty ones scored 0).
    /// </summary>
    public (Tensor Boxes, Tensor Scores) Predict(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = Features(images);
        var proposals = rpn.Forward(features);
        long n = images.shape[0];
        int k = ProposalCount;
        var padded = zeros(n, k, 4, device: images.device);
        var valid = zeros(n, k, device: images.device);
        for (int i = 0; i < n; i++)
        {
            long m = Math.Min(k, proposals.Boxes[i].shape[0]);
            if (m == 0) continue;
            padded[i, ..(int)m] = proposals.Boxes[i][..(int)m];
            valid[i, ..(int)m] = 1f;
        }
        var (boxes, scores) = roi_heads.Predict(RoiMaps(features), padded, valid);
        return (boxes.MoveToOuterDisposeScope(), scores.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The whole two-stage model in one ONNX graph: raw pixels in; backbone (and FPN), RPN head, proposal decoding, TopK,
    /// NonMaxSuppression, RoiAlign (per level, the mapped one kept), the box head and per-class decoding; out the
    /// candidates' boxes (N, K·C, 4) relative to the input, their scores (N, K·C, C) and the final NMS settings, which
    /// the scoring chain's mapping applies.
    /// </summary>
    public OnnxGraphBuilder ExportGraph(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
    {
        var g = new OnnxGraphBuilder("faster_rcnn") { Metadata = metadata };
        var x = g.AddInput(ScoringColumns.OnnxPixels, OnnxGraphBuilder.BatchDimension, input.Channels, input.Height, input.Width);
        string normalized;
        using (g.BeginScope("normalize")) normalized = normalize.Export(g, x);
        string[] features;
        if (fpn is null)
            using (g.BeginScope("backbone")) features = [backbone.Export(g, normalized)[_level]];
        else
        {
            string[] trunk;
            using (g.BeginScope("backbone")) trunk = backbone.ExportTrunk(g, normalized);
            using (g.BeginScope("fpn")) features = fpn.Export(g, _trunkMaps.Select(i => trunk[i]).ToArray());
        }
        string proposals, valid;
        int k;
        using (g.BeginScope("rpn")) (proposals, valid, k) = rpn.Export(g, features);
        var batchSize = OnnxOps.Squeeze(g, OnnxOps.Shape(g, x, 0, 1), [0]);
        string boxes, scores;
        using (g.BeginScope("roi_heads")) (boxes, scores) = roi_heads.Export(g, fpn is null ? features : features[..^1], proposals, valid, batchSize, k);
        var post = OnnxOps.Identity(g, g.AddInitializer("postprocess", [scoreThreshold, iouThreshold, maxDetections], 3));
        g.AddOutput(boxes, ScoringColumns.OnnxBoxes, OnnxGraphBuilder.BatchDimension, k * ClassCount, 4);
        g.AddOutput(scores, ScoringColumns.OnnxScores, OnnxGraphBuilder.BatchDimension, k * ClassCount, ClassCount);
        g.AddOutput(post, ScoringColumns.OnnxPostProcess, 3);
        return g;
    }
}
