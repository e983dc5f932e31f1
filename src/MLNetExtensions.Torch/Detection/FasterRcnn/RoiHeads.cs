using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// torchvision's <c>RoIHeads</c> for boxes: each proposal pooled by <see cref="RoiAlign"/> (from one map, or with an FPN
/// from the level <see cref="MultiScaleRoiAlign"/> maps it to), a two-layer MLP
/// (<c>box_head.fc6</c>, <c>box_head.fc7</c>), and <see cref="FastRcnnPredictor"/>. In training the ground truth joins
/// the proposals, <see cref="Matcher"/> labels them (IoU ≥ fg → the object's class, &lt; bg → background),
/// <see cref="BalancedPositiveNegativeSampler"/> draws a batch per image, and the class cross-entropy and the smooth L1
/// of the positives' own-class deltas (β = 1/9, summed, divided by the sampled count) are the losses.
/// </summary>
public sealed class RoiHeads : nn.Module
{
    private readonly Sequential box_head;
    private readonly FastRcnnPredictor box_predictor;
    private readonly BoxCoder _coder = BoxCoder.RoiHeads();
    private readonly Matcher _matcher;
    private readonly MultiScaleRoiAlign _pooler;
    private readonly RoiSettings _s;
    private readonly int _classes;

    /// <summary>The settings of the box stage (torchvision's <c>box_*</c> arguments and the RoI pooling; the canonical
    /// scale and level are <see cref="LevelMapper"/>'s, used with several maps only).</summary>
    public sealed record RoiSettings(int OutputSize = 7, int SamplingRatio = 2, bool Aligned = true, int RepresentationSize = 1024,
        float FgIouThreshold = 0.5f, float BgIouThreshold = 0.5f, int BatchSizePerImage = 512, float PositiveFraction = 0.25f,
        int CanonicalScale = 224, int CanonicalLevel = 4);

    /// <param name="inChannels">Channels of the feature map.</param>
    /// <param name="classCount">Object classes (background not counted).</param>
    /// <param name="spatialScale">Feature pixels per input pixel.</param>
    /// <param name="imageHeight">Network input rows.</param>
    /// <param name="imageWidth">Network input columns.</param>
    /// <param name="settings">Pooling, head size and sampling.</param>
    public RoiHeads(long inChannels, int classCount, float spatialScale, int imageHeight, int imageWidth, RoiSettings settings)
        : this(inChannels, classCount, [spatialScale], imageHeight, imageWidth, settings) { }

    /// <summary>Box heads over one map per pyramid level (all of <paramref name="inChannels"/> channels).</summary>
    /// <param name="spatialScales">Feature pixels per input pixel of each map, finest first (powers of two).</param>
    public RoiHeads(long inChannels, int classCount, IReadOnlyList<float> spatialScales, int imageHeight, int imageWidth, RoiSettings settings) : base(nameof(RoiHeads))
    {
        _s = settings;
        _classes = classCount;
        _pooler = new MultiScaleRoiAlign(spatialScales, settings.OutputSize, settings.SamplingRatio, settings.Aligned, settings.CanonicalScale, settings.CanonicalLevel);
        ImageHeight = imageHeight;
        ImageWidth = imageWidth;
        long pooled = inChannels * settings.OutputSize * settings.OutputSize;
        box_head = nn.Sequential(
            ("fc6", nn.Linear(pooled, settings.RepresentationSize)), ("relu6", nn.ReLU()),
            ("fc7", nn.Linear(settings.RepresentationSize, settings.RepresentationSize)), ("relu7", nn.ReLU()));
        box_predictor = new FastRcnnPredictor(settings.RepresentationSize, classCount + 1);
        _matcher = new Matcher(settings.FgIouThreshold, settings.BgIouThreshold, allowLowQualityMatches: false);
        RegisterComponents();
    }

    /// <summary>Feature pixels per input pixel of the (finest) map.</summary>
    public float SpatialScale => _pooler.SpatialScales[0];

    /// <summary>The pooler: the maps' scales and, with several, the level mapper.</summary>
    public MultiScaleRoiAlign Pooler => _pooler;

    public int ImageHeight { get; }
    public int ImageWidth { get; }

    /// <summary>(R, 5) RoIs → (R, C+1) logits and (R, 4(C+1)) deltas.</summary>
    private (Tensor ClassLogits, Tensor BoxRegression) Heads(IReadOnlyList<Tensor> features, Tensor rois)
    {
        var pooled = _pooler.Apply(features, rois);                                                 // (R, C, s, s)
        return box_predictor.call(box_head.call(pooled.flatten(1)));
    }

    /// <summary>Proposal labels of one image: (P) int64 class (1..C), 0 background, −1 ignored; and (P, 4) matched boxes.</summary>
    public (Tensor Labels, Tensor MatchedBoxes) AssignTargets(Tensor proposals, Tensor groundTruth, Tensor groundTruthLabels)
    {
        using var scope = NewDisposeScope();
        long p = proposals.shape[0];
        if (groundTruth.shape[0] == 0)
            return (zeros(p, dtype: ScalarType.Int64, device: proposals.device).MoveToOuterDisposeScope(), zeros(p, 4, device: proposals.device).MoveToOuterDisposeScope());
        var matched = _matcher.Match(BoxIou.Pairwise(groundTruth, proposals));                 // (P)
        using Scalar below = Matcher.BelowLowThreshold, between = Matcher.BetweenThresholds, neutral = -1;   // held (dotnet/TorchSharp#1434)
        var safe = matched.clamp_min(HeldArithmetic.Zero);
        var labels = groundTruthLabels.index_select(0, safe)
            .masked_fill(matched.eq(below), HeldArithmetic.Zero).masked_fill(matched.eq(between), neutral);
        return (labels.MoveToOuterDisposeScope(), groundTruth.index_select(0, safe).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The box stage's losses: per image the <paramref name="proposals"/> (K_i, 4) with the ground truth added,
    /// labelled and sampled; <paramref name="groundTruth"/> (G_i, 4) pixels and <paramref name="groundTruthLabels"/> (G_i) 1-based classes;
    /// <paramref name="features"/> one map per pooler level.
    /// </summary>
    public (Tensor ClassLoss, Tensor BoxLoss) Loss(IReadOnlyList<Tensor> features, IReadOnlyList<Tensor> proposals, IReadOnlyList<Tensor> groundTruth,
        IReadOnlyList<Tensor> groundTruthLabels, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var sampler = new BalancedPositiveNegativeSampler(_s.BatchSizePerImage, _s.PositiveFraction, generator);
        var rois = new List<Tensor>();
        var labels = new List<Tensor>();
        var targets = new List<Tensor>();
        for (int i = 0; i < proposals.Count; i++)
        {
            var candidates = cat([proposals[i], groundTruth[i]], 0);                               // (P, 4)
            var (l, matched) = AssignTargets(candidates, groundTruth[i], groundTruthLabels[i]);
            var (pos, neg) = sampler.Sample(l);
            var drawn = pos.logical_or(neg).nonzero().view(-1);                                    // (S)
            var boxes = candidates.index_select(0, drawn);
            using Scalar image = i;                                                                 // held (dotnet/TorchSharp#1434)
            rois.Add(cat([full(boxes.shape[0], 1, image, device: boxes.device), boxes], 1));      // (S, 5)
            labels.Add(l.index_select(0, drawn));
            targets.Add(_coder.Encode(matched.index_select(0, drawn), boxes));
        }
        var allLabels = cat(labels, 0);                                                             // (R)
        var (logits, regression) = Heads(features, cat(rois, 0));                                  // (R, C+1), (R, 4(C+1))
        var classLoss = F.cross_entropy(logits, allLabels);
        var positive = allLabels.gt(HeldArithmetic.Zero).nonzero().view(-1);                                         // (Q)
        long r = allLabels.shape[0];
        var own = regression.view(r, _classes + 1, 4).index_select(0, positive)
            .gather(1, allLabels.index_select(0, positive).view(-1, 1, 1).expand(-1, 1, 4)).squeeze(1);   // (Q, 4)
        using Scalar sampled = Math.Max(1, r);                                                      // held (dotnet/TorchSharp#1434)
        var boxLoss = F.smooth_l1_loss(own, cat(targets, 0).index_select(0, positive), reduction: nn.Reduction.Sum, beta: 1.0 / 9) / sampled;
        return (classLoss.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Eval-mode outputs in the scoring contract for <paramref name="proposals"/> (N, K, 4) pixels with
    /// <paramref name="valid"/> (N, K) 1/0: per image K·C candidates, candidate k·C + c being proposal k's box for class
    /// c as corners relative to the input, (N, K·C, 4), with its class-c probability in column c and 0 elsewhere, (N, K·C, C).
    /// </summary>
    public (Tensor Boxes, Tensor Scores) Predict(IReadOnlyList<Tensor> features, Tensor proposals, Tensor valid)
    {
        using var scope = NewDisposeScope();
        long n = proposals.shape[0], k = proposals.shape[1];
        int c = _classes;
        var flat = proposals.reshape(-1, 4);                                                         // (N·K, 4)
        using Scalar images = n;                                                                     // held (dotnet/TorchSharp#1434)
        var batch = HeldArithmetic.Range(images, ScalarType.Float32, flat.device).repeat_interleave(k).unsqueeze(1);
        var (logits, regression) = Heads(features, cat([batch, flat], 1));
        var probabilities = logits.softmax(1)[.., 1..] * valid.reshape(-1, 1);                      // (N·K, C)
        var boxes = _coder.Decode(regression, flat).view(n * k, c + 1, 4)[.., 1.., ..];             // (N·K, C, 4)
        boxes = RegionProposalNetwork.Clip(boxes, ImageHeight, ImageWidth)
            .div(tensor(new float[] { ImageWidth, ImageHeight, ImageWidth, ImageHeight }, device: flat.device));   // relative to the input
        var scores = probabilities.unsqueeze(2) * eye(c, device: flat.device).unsqueeze(0);         // (N·K, C, C)
        return (boxes.reshape(n, k * c, 4).MoveToOuterDisposeScope(), scores.reshape(n, k * c, c).MoveToOuterDisposeScope());
    }

    /// <summary>Emits <see cref="Predict"/> for (N, K, 4) <paramref name="proposals"/> and (N, K) <paramref name="valid"/>.</summary>
    public (string Boxes, string Scores) Export(OnnxGraphBuilder g, IReadOnlyList<string> features, string proposals, string valid, string batchSize, int k)
    {
        int c = _classes;
        var flat = OnnxOps.Reshape(g, proposals, [-1, 4]);                                          // (N·K, 4)
        var batch = OnnxOps.Reshape(g, OnnxOps.Expand(g, OnnxOps.Unsqueeze(g, OnnxOps.Range(g, batchSize), [1]), [1, k]), [-1]);   // (N·K)
        var pooled = _pooler.Export(g, features, flat, batch);                                      // (N·K, C, s, s)
        string x;
        using (g.BeginScope("box_head")) x = OnnxModuleExport.Export(g, box_head, OnnxOps.Flatten(g, pooled, 1));
        string logits, regression;
        using (g.BeginScope("box_predictor")) (logits, regression) = box_predictor.Export(g, x);
        var probabilities = OnnxOps.Mul(g, OnnxOps.Slice(g, OnnxOps.Softmax(g, logits, 1), [1], [long.MaxValue], [1]), OnnxOps.Reshape(g, valid, [-1, 1]));  // (N·K, C)
        var codes = OnnxOps.Reshape(g, regression, [-1, c + 1, 4]);                                  // (N·K, C+1, 4)
        var boxes = RegionProposalNetwork.ExportDecode(g, codes, OnnxOps.Unsqueeze(g, flat, [1]), _coder);   // (N·K, C+1, 4)
        boxes = OnnxOps.Slice(g, boxes, [1], [long.MaxValue], [1]);                                // (N·K, C, 4)
        var size = g.AddInitializer("image_size", [(float)ImageWidth, ImageHeight, ImageWidth, ImageHeight], 4);
        boxes = OnnxOps.Div(g, OnnxOps.Min(g, OnnxOps.Max(g, boxes, g.AddInitializer("zero", [0f])), size), size);
        var eye = new float[c * c];
        for (int i = 0; i < c; i++) eye[i * c + i] = 1f;
        var scores = OnnxOps.Mul(g, OnnxOps.Unsqueeze(g, probabilities, [2]), g.AddInitializer("one_hot", eye, 1, c, c));  // (N·K, C, C)
        return (OnnxOps.Reshape(g, boxes, [-1, k * c, 4]), OnnxOps.Reshape(g, scores, [-1, k * c, c]));
    }
}
