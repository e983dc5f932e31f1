using MLNetExtensions.Boxes;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>Proposals per image (pixels, best first) and, in training, the RPN's losses and accuracy.</summary>
/// <param name="Boxes">Per image (K_i, 4) corners in input pixels, detached.</param>
/// <param name="Scores">Per image (K_i) objectness probabilities.</param>
/// <param name="ObjectnessLoss">Binary cross-entropy over the sampled anchors (positives and negatives; neutral ones never).</param>
/// <param name="BoxLoss">Smooth L1 (β = 1/9) of the positive anchors' deltas, summed and divided by the sampled count.</param>
/// <param name="Accuracy">Share of the sampled anchors whose objectness is on the right side of 0.5.</param>
public sealed record RpnOutput(Tensor[] Boxes, Tensor[] Scores, Tensor? ObjectnessLoss = null, Tensor? BoxLoss = null, Tensor? Accuracy = null);

/// <summary>
/// torchvision's <c>RegionProposalNetwork</c> on one feature map or on the levels of a feature pyramid (one head shared
/// by all, each level with its own anchors, concatenated level by level): the head's objectness and deltas at every
/// anchor, proposals decoded and filtered (top-k per level, clip, small boxes, NMS per level, top-k), and in training the anchors labelled by
/// <see cref="Matcher"/> (IoU ≥ fg → 1, &lt; bg → 0, between → −1 neutral; each ground truth's best anchors positive),
/// sampled by <see cref="BalancedPositiveNegativeSampler"/> and scored with the two losses.
/// </summary>
public sealed class RegionProposalNetwork : nn.Module
{
    private readonly RpnHead head;
    private readonly float[] _anchorValues;           // (A, 4) pixels, level by level; a float[] so that it is no buffer of the module
    private readonly int[] _levelAnchors;             // anchors of each level, Σ = A
    private readonly (int Height, int Width)[] _levelSizes;
    private readonly AnchorGenerator[] _generators;
    // Multi-scale training: the anchors of each other input size, made on first use.
    private readonly Dictionary<(int Height, int Width), (float[] Values, int[] PerLevel)> _otherSizes = new();
    private readonly BoxCoder _coder = BoxCoder.Rpn();
    private readonly Matcher _matcher;
    private readonly RpnSettings _s;

    /// <summary>The settings of the proposal stage (torchvision's <c>rpn_*</c> arguments).</summary>
    public sealed record RpnSettings(int PreNmsTopNTrain = 2000, int PreNmsTopNTest = 1000, int PostNmsTopNTrain = 2000, int PostNmsTopNTest = 1000,
        float NmsThreshold = 0.7f, float FgIouThreshold = 0.7f, float BgIouThreshold = 0.3f, int BatchSizePerImage = 256,
        float PositiveFraction = 0.5f, float ScoreThreshold = 0f, float MinSize = 1e-3f);

    /// <param name="inChannels">Channels of the feature map.</param>
    /// <param name="anchors">The anchor generator.</param>
    /// <param name="featureHeight">Feature map rows.</param>
    /// <param name="featureWidth">Feature map columns.</param>
    /// <param name="imageHeight">Network input rows.</param>
    /// <param name="imageWidth">Network input columns.</param>
    /// <param name="settings">Proposal counts and thresholds.</param>
    public RegionProposalNetwork(long inChannels, AnchorGenerator anchors, int featureHeight, int featureWidth, int imageHeight, int imageWidth, RpnSettings settings)
        : this(inChannels, [anchors], [(featureHeight, featureWidth)], imageHeight, imageWidth, settings) { }

    /// <summary>The proposal stage over several maps (torchvision's FPN setting), all with <paramref name="inChannels"/> channels.</summary>
    /// <param name="anchors">One generator per level, all with the same anchors per location (the head is shared).</param>
    /// <param name="featureSizes">Rows and columns of each level's map, finest first.</param>
    public RegionProposalNetwork(long inChannels, IReadOnlyList<AnchorGenerator> anchors, IReadOnlyList<(int Height, int Width)> featureSizes,
        int imageHeight, int imageWidth, RpnSettings settings) : base(nameof(RegionProposalNetwork))
    {
        ArgumentNullException.ThrowIfNull(anchors);
        ArgumentNullException.ThrowIfNull(featureSizes);
        if (anchors.Count == 0 || anchors.Count != featureSizes.Count)
            throw new ArgumentException($"One anchor generator per feature map: got {anchors.Count} generators for {featureSizes.Count} maps.", nameof(anchors));
        if (anchors.Any(a => a.AnchorsPerLocation != anchors[0].AnchorsPerLocation))
            throw new ArgumentException($"The levels share one head, so they need the same anchors per location; got [{string.Join(", ", anchors.Select(a => a.AnchorsPerLocation))}].", nameof(anchors));
        _s = settings;
        ImageHeight = imageHeight;
        ImageWidth = imageWidth;
        _levelSizes = featureSizes.ToArray();
        head = new RpnHead(inChannels, anchors[0].AnchorsPerLocation);
        _generators = anchors.ToArray();
        (_anchorValues, _levelAnchors) = MakeAnchors(_levelSizes, imageHeight, imageWidth);
        _matcher = new Matcher(settings.FgIouThreshold, settings.BgIouThreshold, allowLowQualityMatches: true);
        RegisterComponents();
    }

    public int ImageHeight { get; }
    public int ImageWidth { get; }

    /// <summary>Rows and columns of each level's map, finest first.</summary>
    public IReadOnlyList<(int Height, int Width)> FeatureSizes => _levelSizes;

    /// <summary>Anchors in all: A = Σ H_l·W_l·anchors per location.</summary>
    public int AnchorCount => _anchorValues.Length / 4;

    /// <summary>Anchors of each level, in the order of <see cref="Anchors"/>.</summary>
    public IReadOnlyList<int> AnchorsPerLevel => _levelAnchors;

    /// <summary>Proposals per image at inference at most: the post-NMS count, or fewer when the levels' pre-NMS top-k give fewer.</summary>
    public int ProposalCount => Math.Min(_s.PostNmsTopNTest, PreNmsCount(_levelAnchors, _s.PreNmsTopNTest));

    /// <summary>Candidates entering NMS: each level's top-k.</summary>
    private static int PreNmsCount(IReadOnlyList<int> anchorsPerLevel, int preNmsTopN) => anchorsPerLevel.Sum(a => Math.Min(preNmsTopN, a));

    /// <summary>All anchors, (A, 4) corners in input pixels, on <paramref name="device"/>.</summary>
    public Tensor Anchors(Device device) => tensor(_anchorValues, device: device).reshape(-1, 4);

    /// <summary>Every level's anchors for maps of <paramref name="levelSizes"/> on a <paramref name="imageHeight"/> ×
    /// <paramref name="imageWidth"/> input, level by level, and each level's count.</summary>
    private (float[] Values, int[] PerLevel) MakeAnchors(IReadOnlyList<(int Height, int Width)> levelSizes, int imageHeight, int imageWidth)
    {
        // torchvision's stride: image size // feature size.
        var levels = _generators.Select((a, l) => a.Generate(levelSizes[l].Height, levelSizes[l].Width,
            imageHeight / levelSizes[l].Height, imageWidth / levelSizes[l].Width)).ToArray();
        return (levels.Length == 1 ? levels[0] : levels.SelectMany(v => v).ToArray(), levels.Select(v => v.Length / 4).ToArray());
    }

    /// <summary>The anchors and per-level counts for <paramref name="features"/> of an input of <paramref name="imageSize"/>:
    /// the built size's, or another size's (multi-scale training), made once.</summary>
    private (float[] Values, int[] PerLevel) AnchorsFor(IReadOnlyList<Tensor> features, (int Height, int Width) imageSize)
    {
        if (imageSize == (ImageHeight, ImageWidth)) return (_anchorValues, _levelAnchors);
        if (!_otherSizes.TryGetValue(imageSize, out var anchors))
            _otherSizes[imageSize] = anchors = MakeAnchors(features.Select(f => ((int)f.shape[2], (int)f.shape[3])).ToArray(), imageSize.Height, imageSize.Width);
        return anchors;
    }

    /// <summary>Anchor labels of one image: (A) int64 1 object, 0 background, −1 neutral; and (A, 4) the matched boxes.</summary>
    public (Tensor Labels, Tensor MatchedBoxes) AssignTargets(Tensor groundTruth, Tensor anchors)
    {
        using var scope = NewDisposeScope();
        long a = anchors.shape[0];
        if (groundTruth.shape[0] == 0)
            return (zeros(a, dtype: ScalarType.Int64, device: anchors.device).MoveToOuterDisposeScope(), zeros(a, 4, device: anchors.device).MoveToOuterDisposeScope());
        var matched = _matcher.Match(BoxIou.Pairwise(groundTruth, anchors));                // (A)
        using Scalar below = Matcher.BelowLowThreshold, between = Matcher.BetweenThresholds, neutral = -1;   // held (dotnet/TorchSharp#1434)
        var boxes = groundTruth.index_select(0, matched.clamp_min(HeldArithmetic.Zero));     // (A, 4)
        var labels = ones_like(matched);
        labels = labels.masked_fill(matched.eq(below), HeldArithmetic.Zero).masked_fill(matched.eq(between), neutral);
        return (labels.MoveToOuterDisposeScope(), boxes.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The RPN losses and accuracy from its raw outputs: <paramref name="objectness"/> (N, A) logits, <paramref name="deltas"/>
    /// (N, A, 4), the anchor <paramref name="labels"/> (N, A) and their regression <paramref name="targets"/> (N, A, 4),
    /// over the anchors the sampler draws; neutral (−1) anchors are never drawn.
    /// </summary>
    public (Tensor ObjectnessLoss, Tensor BoxLoss, Tensor Accuracy) Loss(Tensor objectness, Tensor deltas, Tensor labels, Tensor targets, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var sampler = new BalancedPositiveNegativeSampler(_s.BatchSizePerImage, _s.PositiveFraction, generator);
        long n = labels.shape[0];
        var (pos, neg) = sampler.Sample(Enumerable.Range(0, (int)n).Select(i => labels[i]).ToList());
        var positive = stack(pos).flatten();                                                    // (N·A) bool
        var sampled = positive.logical_or(stack(neg).flatten());                                // (N·A) bool
        using Scalar atLeastOne = 1f;                                                           // held (dotnet/TorchSharp#1434)
        var count = sampled.sum().to(ScalarType.Float32).clamp_min(atLeastOne);                 // ()
        var logits = objectness.flatten().masked_select(sampled);                               // (S)
        var truth = labels.flatten().masked_select(sampled).to(ScalarType.Float32);             // (S)
        var objectnessLoss = F.binary_cross_entropy_with_logits(logits, truth);
        var p = positive.nonzero().view(-1);                                                    // (P)
        var boxLoss = F.smooth_l1_loss(deltas.reshape(-1, 4).index_select(0, p), targets.reshape(-1, 4).index_select(0, p),
            reduction: nn.Reduction.Sum, beta: 1.0 / 9) / count;
        var accuracy = logits.detach().gt(HeldArithmetic.Zero).to(ScalarType.Float32).eq(truth).to(ScalarType.Float32).sum() / count;
        return (objectnessLoss.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The proposal stage on a feature map: head outputs, decoded and filtered proposals, and with
    /// <paramref name="groundTruth"/> (per image (G, 4) pixels) the losses of the anchors drawn with <paramref name="generator"/>.
    /// </summary>
    public RpnOutput Forward(Tensor features, IReadOnlyList<Tensor>? groundTruth = null, Generator? generator = null)
        => Forward(new[] { features }, groundTruth, generator);

    /// <summary><see cref="Forward(Tensor, IReadOnlyList{Tensor}?, Generator?)"/> on one map per level, finest first.</summary>
    public RpnOutput Forward(IReadOnlyList<Tensor> features, IReadOnlyList<Tensor>? groundTruth = null, Generator? generator = null)
        => Forward(features, (ImageHeight, ImageWidth), groundTruth, generator);

    /// <summary>The proposal stage on the maps of an input of <paramref name="imageSize"/> pixels (multi-scale training:
    /// another size than the one it was built for; its anchors follow the maps' sizes).</summary>
    public RpnOutput Forward(IReadOnlyList<Tensor> features, (int Height, int Width) imageSize, IReadOnlyList<Tensor>? groundTruth = null, Generator? generator = null)
    {
        if (features.Count != _levelSizes.Length)
            throw new ArgumentException($"The RPN was built for {_levelSizes.Length} feature maps, but got {features.Count}.", nameof(features));
        using var scope = NewDisposeScope();
        var (objectness, deltas) = Head(features);                                              // (N, A), (N, A, 4)
        long n = objectness.shape[0], a = objectness.shape[1];
        var (anchorValues, levelAnchors) = AnchorsFor(features, imageSize);
        var anchors = tensor(anchorValues, device: features[0].device).reshape(-1, 4);          // (A, 4)
        Tensor proposals;
        using (no_grad())
            proposals = _coder.Decode(deltas.detach().reshape(-1, 4), anchors.repeat(n, 1)).view(n, a, 4);   // (N, A, 4)
        bool training = groundTruth != null;
        var (boxes, scores) = FilterProposals(proposals, objectness.detach(), levelAnchors, imageSize.Height, imageSize.Width,
            training ? _s.PreNmsTopNTrain : _s.PreNmsTopNTest, training ? _s.PostNmsTopNTrain : _s.PostNmsTopNTest,
            _s.NmsThreshold, _s.MinSize, _s.ScoreThreshold);
        foreach (var t in boxes.Concat(scores)) t.MoveToOuterDisposeScope();
        if (!training) return new RpnOutput(boxes, scores);

        var labels = new Tensor[n];
        var targets = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var (l, matched) = AssignTargets(groundTruth![i], anchors);
            labels[i] = l;
            targets[i] = _coder.Encode(matched, anchors);
        }
        var (objectnessLoss, boxLoss, accuracy) = Loss(objectness, deltas, stack(labels), stack(targets), generator ?? throw new ArgumentNullException(nameof(generator)));
        return new RpnOutput(boxes, scores, objectnessLoss.MoveToOuterDisposeScope(), boxLoss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>The shared head on each level: objectness (N, A) and deltas (N, A, 4), level by level.</summary>
    private (Tensor Objectness, Tensor Deltas) Head(IReadOnlyList<Tensor> features)
    {
        if (features.Count == 1) return head.call(features[0]);
        using var scope = NewDisposeScope();
        var levels = features.Select(f => head.call(f)).ToList();
        return (cat(levels.Select(l => l.Objectness).ToList(), 1).MoveToOuterDisposeScope(), cat(levels.Select(l => l.Deltas).ToList(), 1).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// torchvision's <c>filter_proposals</c> for one feature level: per image the <paramref name="preNmsTopN"/> best
    /// anchors by objectness, their proposals clipped to the image, boxes under <paramref name="minSize"/> and scores
    /// under <paramref name="scoreThreshold"/> dropped, NMS at <paramref name="nmsThreshold"/>, the best <paramref name="postNmsTopN"/> kept.
    /// </summary>
    /// <param name="proposals">(N, A, 4) decoded boxes in pixels.</param>
    /// <param name="objectness">(N, A) logits.</param>
    /// <returns>Per image (K_i, 4) boxes and (K_i) sigmoid scores, best first.</returns>
    public static (Tensor[] Boxes, Tensor[] Scores) FilterProposals(Tensor proposals, Tensor objectness, int imageHeight, int imageWidth,
        int preNmsTopN, int postNmsTopN, float nmsThreshold, float minSize, float scoreThreshold)
        => FilterProposals(proposals, objectness, [(int)proposals.shape[1]], imageHeight, imageWidth, preNmsTopN, postNmsTopN, nmsThreshold, minSize, scoreThreshold);

    /// <summary>
    /// torchvision's <c>filter_proposals</c> over several levels: the <paramref name="preNmsTopN"/> best anchors of each
    /// level, then clip, small boxes and scores as for one level, NMS within each level (torchvision's
    /// <c>batched_nms</c> with the level as the class), and the best <paramref name="postNmsTopN"/> of all levels kept.
    /// </summary>
    /// <param name="proposals">(N, A, 4) decoded boxes in pixels, level by level.</param>
    /// <param name="objectness">(N, A) logits.</param>
    /// <param name="anchorsPerLevel">How many of the A anchors each level has, in order.</param>
    /// <returns>Per image (K_i, 4) boxes and (K_i) sigmoid scores, best first.</returns>
    public static (Tensor[] Boxes, Tensor[] Scores) FilterProposals(Tensor proposals, Tensor objectness, IReadOnlyList<int> anchorsPerLevel,
        int imageHeight, int imageWidth, int preNmsTopN, int postNmsTopN, float nmsThreshold, float minSize, float scoreThreshold)
    {
        if (anchorsPerLevel.Sum() != proposals.shape[1])
            throw new ArgumentException($"The levels' anchors ({string.Join(" + ", anchorsPerLevel)}) must add up to the {proposals.shape[1]} proposals per image.", nameof(anchorsPerLevel));
        using var scope = NewDisposeScope();
        long n = proposals.shape[0];
        // Each level's top-k by a stable sort, so that equal scores (flat image regions give many) keep the lower
        // anchor first, as ONNX's TopK does.
        var tops = new List<Tensor>(anchorsPerLevel.Count);
        var indices = new List<Tensor>(anchorsPerLevel.Count);
        var levelOfCandidate = new List<int>();
        long offset = 0;
        for (int l = 0; l < anchorsPerLevel.Count; l++)
        {
            int a = anchorsPerLevel[l], take = Math.Min(preNmsTopN, a);
            var (sorted, order) = objectness.narrow(1, offset, a).sort(dim: 1, descending: true, stable: true);
            tops.Add(sorted[.., ..take]);                                                         // (N, k_l)
            using Scalar shift = offset;
            indices.Add(offset == 0 ? order[.., ..take] : order[.., ..take].Plus(shift));        // (N, k_l)
            levelOfCandidate.AddRange(Enumerable.Repeat(l, take));
            offset += a;
        }
        var top = tops.Count == 1 ? tops[0] : cat(tops, 1);                                      // (N, k)
        var index = indices.Count == 1 ? indices[0] : cat(indices, 1);                           // (N, k)
        var candidateLevels = tensor(levelOfCandidate.ToArray(), device: proposals.device);      // (k)
        var picked = proposals.gather(1, index.unsqueeze(2).expand(-1, -1, 4));                 // (N, k, 4)
        var probability = top.sigmoid();                                                         // (N, k)
        var boxes = new Tensor[n];
        var scores = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var b = Clip(picked[i], imageHeight, imageWidth);                                     // (k, 4)
            var s = probability[i];                                                               // (k)
            var w = b[.., 2] - b[.., 0];
            var h = b[.., 3] - b[.., 1];
            using Scalar smallest = minSize, lowest = scoreThreshold;                             // held (dotnet/TorchSharp#1434)
            var keep = w.ge(smallest).logical_and(h.ge(smallest)).logical_and(s.ge(lowest)).nonzero().view(-1);
            b = b.index_select(0, keep);
            s = s.index_select(0, keep);
            if (keep.shape[0] == 0)
            {
                // Every proposal dropped (e.g. a diverged head's NaN boxes): no proposals for this image.
                boxes[i] = b.MoveToOuterDisposeScope();
                scores[i] = s.MoveToOuterDisposeScope();
                continue;
            }
            var hostBoxes = b.cpu().data<float>().ToArray();
            var hostScores = s.cpu().data<float>().ToArray();
            var nms = new NmsOptions(nmsThreshold, maxTotal: Math.Max(1, postNmsTopN));
            var kept = anchorsPerLevel.Count == 1
                ? NonMaxSuppression.Apply(hostBoxes, hostScores, nms)
                : NonMaxSuppression.ApplyClassAware(hostBoxes, hostScores, candidateLevels.index_select(0, keep).cpu().data<int>().ToArray(), nms);
            var k = tensor(kept.Select(x => (long)x).ToArray(), ScalarType.Int64).to(b.device);
            boxes[i] = b.index_select(0, k).MoveToOuterDisposeScope();
            scores[i] = s.index_select(0, k).MoveToOuterDisposeScope();
        }
        return (boxes, scores);
    }

    /// <summary>Clips (…, 4) corners to [0, width] × [0, height].</summary>
    internal static Tensor Clip(Tensor boxes, int imageHeight, int imageWidth)
    {
        using Scalar zero = 0f;   // held (dotnet/TorchSharp#1434)
        return boxes.clamp_min(zero).minimum(tensor(new float[] { imageWidth, imageHeight, imageWidth, imageHeight }, device: boxes.device));
    }

    /// <summary>
    /// Emits the proposal stage for a fixed <paramref name="postNmsTopN"/> per image: the head, top-k, decoding, clip,
    /// small boxes and NMS as <see cref="FilterProposals"/> does, then the kept proposals in score order padded to the fixed count.
    /// </summary>
    /// <returns>(N, K, 4) proposals in pixels and (N, K) 1 for a real proposal, 0 for padding.</returns>
    public (string Proposals, string Valid, int Count) Export(OnnxGraphBuilder g, string features) => Export(g, new[] { features });

    /// <summary>
    /// <see cref="Export(OnnxGraphBuilder, string)"/> on one map per level: each level's TopK, and NMS per level
    /// (the levels as NonMaxSuppression's classes), the kept proposals of all levels ranked together.
    /// </summary>
    public (string Proposals, string Valid, int Count) Export(OnnxGraphBuilder g, IReadOnlyList<string> features)
    {
        if (features.Count != _levelSizes.Length)
            throw new ArgumentException($"The RPN was built for {_levelSizes.Length} feature maps, but got {features.Count}.", nameof(features));
        var (objectness, deltas) = head.Export(g, features.Select((f, l) => (f, (long)_levelSizes[l].Height, (long)_levelSizes[l].Width)).ToList());
        long a = AnchorCount;
        int k = ProposalCount;
        var (top, index) = ExportTopKPerLevel(g, objectness);                                    // (N, preN)
        var scores = OnnxOps.Sigmoid(g, top);                                                    // (N, preN)
        var index4 = OnnxOps.Expand(g, OnnxOps.Unsqueeze(g, index, [2]), [1, 1, 4]);              // (N, preN, 4)
        var pickedDeltas = OnnxOps.GatherElements(g, deltas, index4, axis: 1);                    // (N, preN, 4)
        var anchors = OnnxOps.Gather(g, g.AddInitializer("anchors", _anchorValues, a, 4), index, axis: 0);   // (N, preN, 4)
        var boxes = ExportDecode(g, pickedDeltas, anchors, _coder);                               // (N, preN, 4)
        boxes = OnnxOps.Min(g, OnnxOps.Max(g, boxes, g.AddInitializer("clip_min", [0f, 0f, 0f, 0f], 4)),
            g.AddInitializer("clip_max", [(float)ImageWidth, ImageHeight, ImageWidth, ImageHeight], 4));
        var size = OnnxOps.Sub(g, OnnxOps.Slice(g, boxes, [2], [4], [2]), OnnxOps.Slice(g, boxes, [0], [2], [2]));   // (N, preN, 2)
        var big = OnnxOps.GreaterOrEqual(g, size, g.AddInitializer("min_size", [_s.MinSize]));
        var wide = OnnxOps.Squeeze(g, OnnxOps.Slice(g, big, [0], [1], [2]), [2]);
        var tall = OnnxOps.Squeeze(g, OnnxOps.Slice(g, big, [1], [2], [2]), [2]);
        var keep = OnnxOps.And(g, OnnxOps.And(g, wide, tall), OnnxOps.GreaterOrEqual(g, scores, g.AddInitializer("score_threshold", [_s.ScoreThreshold])));
        var minusOne = g.AddInitializer("dropped", [-1f]);
        var candidates = OnnxOps.Where(g, keep, scores, minusOne);                               // (N, preN), dropped = −1
        // NMS drops scores not above −0.5, i.e. the dropped boxes; selected rows are (batch, level, box).
        var selected = OnnxOps.NonMaxSuppression(g, boxes, ExportScoresPerLevel(g, candidates, minusOne), k, _s.NmsThreshold, -0.5f);
        var where = OnnxOps.Gather(g, selected, g.AddInitializer("batch_and_box", [0L, 2L], 2), axis: 1);   // (M, 2)
        var zero = g.AddInitializer("zero", [0f]);
        var ones = OnnxOps.Add(g, OnnxOps.Mul(g, OnnxOps.Cast(g, OnnxOps.Gather(g, selected, g.AddInitializer("column0", [0L]), axis: 1), OnnxElementType.Float), zero),
            g.AddInitializer("one", [1f]));                                                      // (M)
        var kept = OnnxOps.ScatterND(g, OnnxOps.Mul(g, scores, zero), where, ones);              // (N, preN) 1 where NMS kept
        var ranked = OnnxOps.Where(g, OnnxOps.Greater(g, kept, g.AddInitializer("half", [0.5f])), scores, g.AddInitializer("not_kept", [-1f]));
        var (best, order) = OnnxOps.TopK(g, ranked, k, axis: 1);                                  // (N, K): kept ones first, by score
        var proposals = OnnxOps.GatherElements(g, boxes, OnnxOps.Expand(g, OnnxOps.Unsqueeze(g, order, [2]), [1, 1, 4]), axis: 1);  // (N, K, 4)
        var valid = OnnxOps.Cast(g, OnnxOps.Greater(g, best, g.AddInitializer("minus_half", [-0.5f])), OnnxElementType.Float);     // (N, K)
        return (proposals, valid, k);
    }

    /// <summary>Each level's <c>PreNmsTopNTest</c> best of (N, A) <paramref name="objectness"/>: values and indices into A, (N, preN), level by level.</summary>
    private (string Values, string Indices) ExportTopKPerLevel(OnnxGraphBuilder g, string objectness)
    {
        if (_levelAnchors.Length == 1) return OnnxOps.TopK(g, objectness, Math.Min(_s.PreNmsTopNTest, _levelAnchors[0]), axis: 1);
        var values = new List<string>(_levelAnchors.Length);
        var indices = new List<string>(_levelAnchors.Length);
        long offset = 0;
        foreach (int count in _levelAnchors)
        {
            var level = OnnxOps.Slice(g, objectness, [offset], [offset + count], [1]);            // (N, A_l)
            var (v, i) = OnnxOps.TopK(g, level, Math.Min(_s.PreNmsTopNTest, count), axis: 1);    // (N, k_l)
            values.Add(v);
            indices.Add(OnnxOps.Add(g, i, g.AddInitializer("level_offset", [offset])));
            offset += count;
        }
        return (OnnxOps.Concat(g, values, axis: 1), OnnxOps.Concat(g, indices, axis: 1));
    }

    /// <summary>NonMaxSuppression's scores (N, L, preN): level l's row keeps the <paramref name="candidates"/> (N, preN)
    /// of level l and has <paramref name="dropped"/> elsewhere, so that NMS runs within each level.</summary>
    private string ExportScoresPerLevel(OnnxGraphBuilder g, string candidates, string dropped)
    {
        var rows = OnnxOps.Unsqueeze(g, candidates, [1]);                                        // (N, 1, preN)
        if (_levelAnchors.Length == 1) return rows;
        var counts = _levelAnchors.Select(c => Math.Min(_s.PreNmsTopNTest, c)).ToArray();
        int preN = counts.Sum(), levels = counts.Length;
        var mask = new float[levels * preN];
        for (int l = 0, start = 0; l < levels; start += counts[l], l++)
            Array.Fill(mask, 1f, l * preN + start, counts[l]);
        var inLevel = OnnxOps.Greater(g, g.AddInitializer("level_mask", mask, 1, levels, preN), g.AddInitializer("half", [0.5f]));   // (1, L, preN)
        return OnnxOps.Where(g, inLevel, rows, dropped);                                          // (N, L, preN)
    }

    /// <summary>Emits <see cref="BoxCoder.Decode"/> for codes and anchors of the same shape (…, 4).</summary>
    internal static string ExportDecode(OnnxGraphBuilder g, string codes, string anchors, BoxCoder coder)
    {
        // Both (…, 4) of rank 3; anchors may broadcast (e.g. (K, 1, 4) against (K, C, 4)).
        string Part(string x, long from, long to) => OnnxOps.Slice(g, x, [from], [to], [2]);
        var aw = OnnxOps.Sub(g, Part(anchors, 2, 3), Part(anchors, 0, 1));
        var ah = OnnxOps.Sub(g, Part(anchors, 3, 4), Part(anchors, 1, 2));
        var half = g.AddInitializer("half", [0.5f]);
        var acx = OnnxOps.Add(g, Part(anchors, 0, 1), OnnxOps.Mul(g, aw, half));
        var acy = OnnxOps.Add(g, Part(anchors, 1, 2), OnnxOps.Mul(g, ah, half));
        var weights = g.AddInitializer("inverse_weights", [1f / coder.XWeight, 1f / coder.YWeight, 1f / coder.WidthWeight, 1f / coder.HeightWeight], 4);
        var d = OnnxOps.Mul(g, codes, weights);
        var clamp = g.AddInitializer("exp_clamp", [coder.ExpClamp]);
        var cx = OnnxOps.Add(g, OnnxOps.Mul(g, Part(d, 0, 1), aw), acx);
        var cy = OnnxOps.Add(g, OnnxOps.Mul(g, Part(d, 1, 2), ah), acy);
        var hw = OnnxOps.Mul(g, OnnxOps.Mul(g, OnnxOps.Exp(g, OnnxOps.Min(g, Part(d, 2, 3), clamp)), aw), half);
        var hh = OnnxOps.Mul(g, OnnxOps.Mul(g, OnnxOps.Exp(g, OnnxOps.Min(g, Part(d, 3, 4), clamp)), ah), half);
        return OnnxOps.Concat(g, [OnnxOps.Sub(g, cx, hw), OnnxOps.Sub(g, cy, hh), OnnxOps.Add(g, cx, hw), OnnxOps.Add(g, cy, hh)], axis: 2);
    }
}
