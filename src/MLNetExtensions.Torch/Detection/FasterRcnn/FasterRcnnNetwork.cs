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
/// FPN-style single level), the <see cref="RegionProposalNetwork"/> and the <see cref="RoiHeads"/>. The input size is
/// fixed (the scoring chain resizes to it), so the anchors are constants of the exported graph.
/// </summary>
public sealed class FasterRcnnNetwork : nn.Module
{
    private readonly InputNormalization normalize;
    private readonly SsdBackbone backbone;
    private readonly RegionProposalNetwork rpn;
    private readonly RoiHeads roi_heads;
    private readonly int _level;

    public FasterRcnnNetwork(DetectorBackbone backboneKind, int inChannels, int classCount, PixelNormalization normalization, float widthMultiplier,
        string? backboneWeightsPath, int featureStride, int inputHeight, int inputWidth, AnchorGenerator anchors,
        RegionProposalNetwork.RpnSettings rpnSettings, RoiHeads.RoiSettings roiSettings) : base(nameof(FasterRcnnNetwork))
    {
        if (featureStride is not (8 or 16)) throw new ArgumentOutOfRangeException(nameof(featureStride), featureStride, "The feature stride must be 8 or 16.");
        ClassCount = classCount;
        InputHeight = inputHeight;
        InputWidth = inputWidth;
        _level = featureStride == 8 ? 0 : 1;
        normalize = new InputNormalization(normalization);
        backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath, topDownFusion: featureStride == 8, extraBlocks: 0);
        long channels = backbone.OutChannels[_level];
        var (fh, fw) = FeatureSize(inChannels, inputHeight, inputWidth);
        rpn = new RegionProposalNetwork(channels, anchors, fh, fw, inputHeight, inputWidth, rpnSettings);
        // torchvision's MultiScaleRoIAlign infers the scale as a power of two: 2^round(log2(feature / image)).
        float scale = MathF.Pow(2, MathF.Round(MathF.Log2((float)fh / inputHeight)));
        roi_heads = new RoiHeads(channels, classCount, scale, inputHeight, inputWidth, roiSettings);
        ProposalCount = Math.Min(rpnSettings.PostNmsTopNTest, Math.Min(rpnSettings.PreNmsTopNTest, rpn.AnchorCount));
        RegisterComponents();
    }

    public int ClassCount { get; }
    public int InputHeight { get; }
    public int InputWidth { get; }

    /// <summary>Proposals per image at inference (K): the exported graph's fixed count, padded when NMS keeps fewer.</summary>
    public int ProposalCount { get; }

    public RegionProposalNetwork Rpn => rpn;
    public RoiHeads RoiHeads => roi_heads;

    private (int Height, int Width) FeatureSize(int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool wasTraining = backbone.training;
        backbone.eval();
        var map = backbone.call(zeros(1, channels, height, width))[_level];
        backbone.train(wasTraining);
        return ((int)map.shape[2], (int)map.shape[3]);
    }

    /// <summary>The feature map the two stages share: (N, C, H', W').</summary>
    public Tensor Features(Tensor images) => backbone.call(normalize.call(images))[_level];

    /// <summary>Training losses of a batch: (N, C, H, W) raw pixels, per image (G, 4) pixel boxes and (G) 1-based labels.</summary>
    public FasterRcnnLosses Loss(Tensor images, IReadOnlyList<Tensor> boxes, IReadOnlyList<Tensor> labels, Generator generator)
    {
        using var scope = NewDisposeScope();
        var features = Features(images);
        var proposals = rpn.Forward(features, boxes, generator);
        var (classLoss, boxLoss) = roi_heads.Loss(features, proposals.Boxes, boxes, labels, generator);
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
        var (boxes, scores) = roi_heads.Predict(features, padded, valid);
        return (boxes.MoveToOuterDisposeScope(), scores.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The whole two-stage model in one ONNX graph: raw pixels in; backbone, RPN head, proposal decoding, TopK,
    /// NonMaxSuppression, RoiAlign, the box head and per-class decoding; out the candidates' boxes (N, K·C, 4) relative
    /// to the input, their scores (N, K·C, C) and the final NMS settings, which the scoring chain's mapping applies.
    /// </summary>
    public OnnxGraphBuilder ExportGraph(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
    {
        var g = new OnnxGraphBuilder("faster_rcnn") { Metadata = metadata };
        var x = g.AddInput(ScoringColumns.OnnxPixels, OnnxGraphBuilder.BatchDimension, input.Channels, input.Height, input.Width);
        string normalized;
        using (g.BeginScope("normalize")) normalized = normalize.Export(g, x);
        string features;
        using (g.BeginScope("backbone")) features = backbone.Export(g, normalized)[_level];
        string proposals, valid;
        int k;
        using (g.BeginScope("rpn")) (proposals, valid, k) = rpn.Export(g, features);
        var batchSize = OnnxOps.Squeeze(g, OnnxOps.Shape(g, x, 0, 1), [0]);
        string boxes, scores;
        using (g.BeginScope("roi_heads")) (boxes, scores) = roi_heads.Export(g, features, proposals, valid, batchSize, k);
        var post = OnnxOps.Identity(g, g.AddInitializer("postprocess", [scoreThreshold, iouThreshold, maxDetections], 3));
        g.AddOutput(boxes, ScoringColumns.OnnxBoxes, OnnxGraphBuilder.BatchDimension, k * ClassCount, 4);
        g.AddOutput(scores, ScoringColumns.OnnxScores, OnnxGraphBuilder.BatchDimension, k * ClassCount, ClassCount);
        g.AddOutput(post, ScoringColumns.OnnxPostProcess, 3);
        return g;
    }
}
