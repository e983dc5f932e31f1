using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using FasterRcnnRoiAlign = MLNetExtensions.Torch.Detection.FasterRcnn.RoiAlign;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// The CNN of classic R-CNN (Girshick et al. 2014): each region, enlarged by context padding, is warped to a fixed
/// <c>WarpSize</c>² (anisotropically, as in the paper) and goes through a detector backbone's trunk and a global average
/// pool, giving the region's features; a linear layer over them gives the C + 1 class logits (background first) that
/// fine-tuning trains. The warp is RoI Align on the normalised image with one output cell per warped pixel (2×2
/// bilinear samples per cell), so a region is cut out of the image inside the network and its ONNX graph alike.
/// </summary>
public sealed class RcnnNetwork : nn.Module, ITrainableModel
{
    private readonly InputNormalization normalize;
    private readonly SsdBackbone backbone;
    private readonly GlobalAvgPool pool;
    private readonly Linear classifier;
    private readonly float _padScale;

    /// <summary>Bilinear samples per warped pixel and axis.</summary>
    internal const int WarpSamplingRatio = 2;

    /// <param name="backboneKind">The trunk.</param>
    /// <param name="inChannels">Image channels.</param>
    /// <param name="classCount">Object classes (background not counted).</param>
    /// <param name="normalization">Pixel normalisation, inside the network.</param>
    /// <param name="widthMultiplier">Scales the trunk's channels.</param>
    /// <param name="backboneWeightsPath">ResNet18: ImageNet weights (see <see cref="DetectorNetworkOptions.BackboneWeightsPath"/>).</param>
    /// <param name="warpSize">Side of the warped region in pixels (227 in the paper).</param>
    /// <param name="contextPadding">Pixels of context around the region in the warped frame (16 in the paper).</param>
    public RcnnNetwork(DetectorBackbone backboneKind, int inChannels, int classCount, PixelNormalization normalization, float widthMultiplier,
        string? backboneWeightsPath, int warpSize, int contextPadding) : base(nameof(RcnnNetwork))
    {
        if (warpSize < 8) throw new ArgumentOutOfRangeException(nameof(warpSize), warpSize, "The warp size must be at least 8 pixels.");
        if (contextPadding < 0 || 2 * contextPadding >= warpSize)
            throw new ArgumentOutOfRangeException(nameof(contextPadding), contextPadding, $"The context padding must be within 0..{(warpSize - 1) / 2} pixels of the {warpSize}-pixel warp.");
        ClassCount = classCount;
        WarpSize = warpSize;
        ContextPadding = contextPadding;
        _padScale = (float)warpSize / (warpSize - 2 * contextPadding);
        normalize = new InputNormalization(normalization);
        backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath, topDownFusion: false, extraBlocks: 0);
        pool = new GlobalAvgPool(flatten: true);
        FeatureSize = backbone.TrunkChannels[^1];
        classifier = nn.Linear(FeatureSize, classCount + 1);
        RegisterComponents();
    }

    nn.Module ITrainableModel.Network => this;

    public int ClassCount { get; }
    public int WarpSize { get; }
    public int ContextPadding { get; }

    /// <summary>Values per region feature vector (D): the trunk's last channels.</summary>
    public long FeatureSize { get; }

    /// <summary>The trunk, for freezing stages.</summary>
    public SsdBackbone Backbone => backbone;

    /// <summary>
    /// Region features: <paramref name="images"/> (N, C, H, W) raw pixels and <paramref name="rois"/> (K, 5) rows of batch
    /// index and corners in input pixels → (K, D).
    /// </summary>
    public Tensor Features(Tensor images, Tensor rois)
    {
        using var scope = NewDisposeScope();
        var boxes = rois[.., 1..];
        using var half1 = 0.5f.ToScalar();                                     // Scalars held, not left to the finalizer
        using var halfPadded = (0.5f * _padScale).ToScalar();
        var centre = boxes[.., ..2].Plus(boxes[.., 2..]).mul(half1);
        var half = (boxes[.., 2..] - boxes[.., ..2]).mul(halfPadded);
        var padded = cat([rois[.., ..1], centre - half, centre.Plus(half)], 1);                    // context padding
        var warped = FasterRcnnRoiAlign.Apply(normalize.call(images), padded, WarpSize, WarpSize, 1f, WarpSamplingRatio, aligned: true);  // (K, C, S, S)
        return pool.call(backbone.Trunk(warped)[^1]).MoveToOuterDisposeScope();                    // (K, D)
    }

    /// <summary>Class logits (K, C + 1), background first, of features (K, D).</summary>
    public Tensor Classify(Tensor features) => classifier.call(features);

    /// <summary>
    /// Emits <see cref="Features"/> of one image: <paramref name="pixels"/> (1, C, H, W) raw, <paramref name="boxes"/>
    /// (K, 4) corners in input pixels, <paramref name="batchIndices"/> (K) int64 zeros → (K, D).
    /// </summary>
    public string ExportFeatures(OnnxGraphBuilder g, string pixels, string boxes, string batchIndices)
    {
        OnnxModuleExport.RequireEval(this, "");
        // Context padding is linear in the corners: [x0 y0 x1 y1] · M with a = (1 + f) / 2, b = (1 − f) / 2.
        float a = (1 + _padScale) / 2, b = (1 - _padScale) / 2;
        float[] m =
        [
            a, 0, b, 0,
            0, a, 0, b,
            b, 0, a, 0,
            0, b, 0, a,
        ];
        var padded = OnnxOps.MatMul(g, boxes, g.AddInitializer("context_padding", m, 4, 4));
        string normalized;
        using (g.BeginScope("normalize")) normalized = normalize.Export(g, pixels);
        var warped = OnnxOps.RoiAlign(g, normalized, padded, batchIndices, WarpSize, WarpSize, 1f, WarpSamplingRatio, aligned: true);
        string trunk;
        using (g.BeginScope("backbone")) trunk = backbone.ExportTrunk(g, warped)[^1];
        using (g.BeginScope("pool")) return pool.Export(g, trunk);
    }

    /// <summary>Emits <see cref="Classify"/>.</summary>
    public string ExportClassifier(OnnxGraphBuilder g, string features)
    {
        using (g.BeginScope("classifier")) return OnnxModuleExport.Export(g, classifier, features);
    }

    /// <summary>
    /// The fine-tuned CNN alone, what region features are computed with in ONNX Runtime: <see cref="ScoringColumns.OnnxPixels"/>
    /// (1, C, H, W) raw pixels and <see cref="RegionsInput"/> (R, 4) corners relative to the image in; the features (R, D)
    /// (<see cref="FeaturesOutput"/>) and the fine-tuned softmax (R, C + 1) (<see cref="ProbabilitiesOutput"/>) out.
    /// </summary>
    public OnnxGraphBuilder ExportCnn(NetworkInput input, OnnxModelMetadata metadata)
    {
        var g = new OnnxGraphBuilder("rcnn_cnn") { Metadata = metadata };
        var pixels = g.AddInput(ScoringColumns.OnnxPixels, 1, input.Channels, input.Height, input.Width);
        var regions = g.AddInput(RegionsInput, "R", 4);
        var boxes = OnnxOps.Mul(g, regions, g.AddInitializer("image_size", [(float)input.Width, input.Height, input.Width, input.Height], 4));
        var zero = g.AddInitializer("zero", [0f]);
        var batch = OnnxOps.Cast(g, OnnxOps.Reshape(g, OnnxOps.Mul(g, OnnxOps.Slice(g, regions, [0], [1], [1]), zero), [-1]), OnnxElementType.Int64);
        var features = ExportFeatures(g, pixels, boxes, batch);
        var probabilities = OnnxOps.Softmax(g, ExportClassifier(g, features), 1);
        g.AddOutput(features, FeaturesOutput, "R", FeatureSize);
        g.AddOutput(probabilities, ProbabilitiesOutput, "R", ClassCount + 1);
        return g;
    }

    /// <summary>
    /// The whole R-CNN in one graph, the scoring chain's network: the pixels and <see cref="ScoringColumns.OnnxProposals"/>
    /// (<see cref="RcnnProposalMapping.MaxProposals"/>, 4) in; the first <paramref name="proposalsPerImage"/> proposals'
    /// features, each class's linear SVM (its score through a sigmoid, 0 for an empty proposal) and box regression
    /// (deltas decoded on the proposal as <see cref="BoxCoder.Rpn"/> encodes them); out the candidates' boxes
    /// (1, K·C, 4) relative to the input, their scores (1, K·C, C) (candidate k·C + c: proposal k's box and score for
    /// class c, 0 in the other columns) and the NMS settings, which the scoring chain's mapping applies.
    /// </summary>
    internal OnnxGraphBuilder ExportDetector(NetworkInput input, OnnxModelMetadata metadata, RcnnClassHeads heads, int proposalsPerImage,
        float scoreThreshold, float iouThreshold, int maxDetections)
    {
        int k = proposalsPerImage, c = ClassCount;
        long d = FeatureSize;
        heads.Check(c, d);
        var g = new OnnxGraphBuilder("rcnn") { Metadata = metadata };
        var pixels = g.AddInput(ScoringColumns.OnnxPixels, 1, input.Channels, input.Height, input.Width);
        var all = g.AddInput(ScoringColumns.OnnxProposals, RcnnProposalMapping.MaxProposals, 4);
        var regions = OnnxOps.Slice(g, all, [0], [k], [0]);                                          // (K, 4) relative
        var size = g.AddInitializer("image_size", [(float)input.Width, input.Height, input.Width, input.Height], 4);
        var boxes = OnnxOps.Mul(g, regions, size);                                                   // (K, 4) input pixels
        var zero = g.AddInitializer("zero", [0f]);
        var width = OnnxOps.Sub(g, OnnxOps.Slice(g, regions, [2], [3], [1]), OnnxOps.Slice(g, regions, [0], [1], [1]));
        var valid = OnnxOps.Cast(g, OnnxOps.Greater(g, width, zero), OnnxElementType.Float);        // (K, 1)
        var features = ExportFeatures(g, pixels, boxes, g.AddInitializer("batch_indices", new long[k], k));
        string scores, codes;
        using (g.BeginScope("svm"))
            scores = OnnxOps.Mul(g, OnnxOps.Sigmoid(g, OnnxOps.Gemm(g, features, g.AddInitializer("weight", heads.SvmWeights, c, d),
                g.AddInitializer("bias", heads.SvmBiases, c), transB: true)), valid);               // (K, C)
        using (g.BeginScope("box_regression"))
            codes = OnnxOps.Reshape(g, OnnxOps.Gemm(g, features, g.AddInitializer("weight", heads.RegressionWeights, 4 * c, d),
                g.AddInitializer("bias", heads.RegressionBiases, 4 * c), transB: true), [k, c, 4]);  // (K, C, 4)
        var decoded = RegionProposalNetwork.ExportDecode(g, codes, OnnxOps.Unsqueeze(g, boxes, [1]), BoxCoder.Rpn());   // (K, C, 4)
        decoded = OnnxOps.Div(g, OnnxOps.Min(g, OnnxOps.Max(g, decoded, zero), size), size);
        var eye = new float[c * c];
        for (int i = 0; i < c; i++) eye[i * c + i] = 1f;
        var oneHot = OnnxOps.Mul(g, OnnxOps.Unsqueeze(g, scores, [2]), g.AddInitializer("one_hot", eye, 1, c, c));   // (K, C, C)
        var post = OnnxOps.Identity(g, g.AddInitializer("postprocess", [scoreThreshold, iouThreshold, maxDetections], 3));
        g.AddOutput(OnnxOps.Reshape(g, decoded, [1, k * c, 4]), ScoringColumns.OnnxBoxes, 1, k * c, 4);
        g.AddOutput(OnnxOps.Reshape(g, oneHot, [1, k * c, c]), ScoringColumns.OnnxScores, 1, k * c, c);
        g.AddOutput(post, ScoringColumns.OnnxPostProcess, 3);
        return g;
    }

    /// <summary>Input of <see cref="ExportCnn"/>: (R, 4) region corners relative to the image.</summary>
    public const string RegionsInput = "MLNetExt_Regions";
    /// <summary>Output of <see cref="ExportCnn"/>: (R, D) region features.</summary>
    public const string FeaturesOutput = "MLNetExt_RegionFeatures";
    /// <summary>Output of <see cref="ExportCnn"/>: (R, C + 1) fine-tuned class probabilities, background first.</summary>
    public const string ProbabilitiesOutput = "MLNetExt_RegionProbabilities";
}
