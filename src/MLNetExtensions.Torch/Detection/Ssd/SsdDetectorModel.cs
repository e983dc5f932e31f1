using MLNetExtensions.Detection;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>SSD behind <see cref="IDetectorModel"/>: matching default boxes to ground truth, MultiBox loss, decoding.</summary>
internal sealed class SsdDetectorModel : IDetectorModel
{
    private readonly SsdNetwork _network;
    private readonly SsdDetectorOptions _options;
    private readonly int _channels;
    private readonly DefaultBoxes _priors;
    private readonly Tensor _priorCorners;   // (A, 4) relative corners at the input size
    // Multi-scale training: the default boxes of each other input size (H, W), made on first use (the feature maps' sizes change with it).
    private readonly Dictionary<(long Height, long Width), Tensor> _otherSizes = new();
    private readonly BoxCoder _coder = BoxCoder.FromVariances();
    private readonly Matcher _matcher;
    private readonly SsdLoss _loss;
    private readonly int _classCount;

    public SsdDetectorModel(SsdDetectorOptions options, int classCount, Device device)
    {
        _classCount = classCount;
        _options = options;
        var boxesPerLocation = options.AspectRatios.Select(a => 2 + 2 * a.Length).ToArray();
        int channels = _channels = options.Grayscale ? 1 : 3;
        _network = new SsdNetwork(options.Backbone, channels, classCount, boxesPerLocation, options.Normalization, options.WidthMultiplier, options.BackboneWeightsPath, options.TopDownFusion);
        var sizes = _network.FeatureMapSizes(channels, options.InputHeight, options.InputWidth);
        _priors = new DefaultBoxes(sizes, options.AspectRatios, options.MinScale, options.MaxScale);
        _network.to(device);
        _priorCorners = Corners(_priors, device);
        _matcher = new SsdMatcher(options.MatchIouThreshold, options.IgnoreIouThreshold);
        _loss = new SsdLoss(options.NegativePositiveRatio, options.LocalizationLoss, options.LocalizationWeight);
    }

    public nn.Module Network => _network;
    public DefaultBoxes Priors => _priors;

    public void Dispose()
    {
        _network.Dispose();
        _priorCorners.Dispose();
        foreach (var corners in _otherSizes.Values) corners.Dispose();
    }

    private static Tensor Corners(DefaultBoxes priors, Device device)
    {
        // The intermediate copies are freed now, not left to the finalizer; the result belongs to the model (made inside a
        // step's scope for a multi-scale size, it must outlive it), freed by Dispose.
        using var scope = NewDisposeScope();
        return tensor(priors.ToCorners(1f, 1f), ScalarType.Float32).reshape(-1, 4).to(device).DetachFromDisposeScope();
    }

    /// <summary>The default boxes' (A, 4) relative corners for a (H, W) input: the input size's, or another size's
    /// (multi-scale training), made from that size's feature maps once.</summary>
    internal Tensor PriorCorners(long height, long width, Device device)
    {
        if (height == _options.InputHeight && width == _options.InputWidth) return _priorCorners;
        if (!_otherSizes.TryGetValue((height, width), out var corners))
        {
            var sizes = _network.FeatureMapSizes(_channels, (int)height, (int)width);
            _otherSizes[(height, width)] = corners = Corners(new DefaultBoxes(sizes, _options.AspectRatios, _options.MinScale, _options.MaxScale), device);
        }
        return corners;
    }

    public TrainingLoss Loss(Tensor images, IReadOnlyList<DetectionTarget> targets, Random rng)
    {
        var (logits, regression) = _network.call(images);                  // (B, A, C+1), (B, A, 4)
        var priors = PriorCorners(images.shape[2], images.shape[3], images.device);
        var (labels, encoded) = MakeTargets(targets, images.device, priors); // (B, A), (B, A, 4)
        return _loss.Compute(logits, regression, labels, encoded).ToTrainingLoss();
    }

    /// <summary>Most quality-matrix elements (ground-truth boxes × images × default boxes) matched in one go.</summary>
    private const long MatchChunkElements = 1L << 22;

    /// <summary>Per default box: the matched class (0 = background, -1 = ignored) and the encoded matched box.</summary>
    /// <remarks>
    /// The images are matched together, a chunk of them at a time, instead of one by one (a per-image loop cost ~10% of
    /// the quickstart's SSD step in small tensor operations, `pytorch-parity` bench): the chunk's ground-truth boxes form
    /// one (G, 4) matrix whose quality for another image's default boxes is -1, so the matcher gives each image the
    /// matches it would give that image alone. Unmatched default boxes carry the encoding of their image's first box,
    /// those of an image without boxes zeros, as the one-by-one loop did (only positives' boxes are read).
    /// </remarks>
    internal (Tensor Labels, Tensor Boxes) MakeTargets(IReadOnlyList<DetectionTarget> targets, Device device, Tensor? priorCorners = null)
    {
        using var scope = NewDisposeScope();
        var priors = priorCorners ?? _priorCorners;
        long a = priors.shape[0];
        var labels = new List<Tensor>();
        var boxes = new List<Tensor>();
        for (int start = 0; start < targets.Count;)
        {
            int end = start + 1;
            long boxCount = targets[start].Count;
            while (end < targets.Count && (boxCount + targets[end].Count) * (end + 1 - start) * a <= MatchChunkElements)
                boxCount += targets[end++].Count;
            var (l, b) = MatchChunk(targets, start, end, device, priors);
            labels.Add(l);
            boxes.Add(b);
            start = end;
        }
        return (cat(labels, 0).MoveToOuterDisposeScope(), cat(boxes, 0).MoveToOuterDisposeScope());
    }

    /// <summary>Targets of images [start, end): labels (n, A), encoded boxes (n, A, 4).</summary>
    private (Tensor Labels, Tensor Boxes) MatchChunk(IReadOnlyList<DetectionTarget> targets, int start, int end, Device device, Tensor priors)
    {
        long a = priors.shape[0];
        int n = end - start;
        int total = 0;
        for (int i = start; i < end; i++) total += targets[i].Count;
        if (total == 0) return (zeros(n, a, dtype: ScalarType.Int64, device: device), zeros(n, a, 4, device: device));

        var corners = new float[4 * total];
        var classes = new long[total];
        var owner = new long[total];
        var first = new long[n];
        var empty = new bool[n];
        for (int i = start, g = 0; i < end; i++)
        {
            var t = targets[i];
            first[i - start] = g;
            empty[i - start] = t.Count == 0;
            t.Boxes.AsSpan(0, 4 * t.Count).CopyTo(corners.AsSpan(4 * g));
            t.Labels.AsSpan(0, t.Count).CopyTo(classes.AsSpan(g));
            owner.AsSpan(g, t.Count).Fill(i - start);
            g += t.Count;
        }
        var gt = tensor(corners, ScalarType.Float32).reshape(total, 4).to(device);                  // (G, 4)
        var gtLabels = tensor(classes, ScalarType.Int64).to(device);                               // (G)
        // Scalars held until the ops return (dotnet/TorchSharp#1434).
        using Scalar first0 = 0L, images = (long)n, one = 1L, zero = 0, minusOne = -1f, ignoredLabel = SsdLoss.Ignored, noCode = 0f;
        var own = tensor(owner, ScalarType.Int64).to(device).unsqueeze(1)
            .eq(arange(first0, images, one, dtype: ScalarType.Int64, device: device).unsqueeze(0)); // (G, n)
        var quality = BoxIou.Pairwise(gt, priors).unsqueeze(1).expand(total, n, a)
            .masked_fill(own.logical_not().unsqueeze(2), minusOne).reshape(total, n * a);         // (G, n·A)
        var matched = _matcher.Match(quality);                                                     // (n·A), -1 background, -2 ignored
        var fallback = tensor(first, ScalarType.Int64).to(device).repeat_interleave(a);            // (n·A)
        using Scalar between = Matcher.BetweenThresholds;
        var safe = where(matched.ge(zero), matched, fallback);
        var unmatched = where(matched.eq(between), full_like(safe, ignoredLabel), zeros_like(safe));
        var labels = where(matched.ge(zero), gtLabels.index_select(0, safe), unmatched).reshape(n, a);             // (n, A)
        var encoded = _coder.Encode(gt.index_select(0, safe), priors.repeat(n, 1)).reshape(n, a, 4);        // (n, A, 4)
        var noBoxes = tensor(empty, device: device).reshape(n, 1, 1);
        return (labels, encoded.masked_fill(noBoxes, noCode));
    }

    public List<RawDetections> Predict(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (logits, regression) = _network.call(images);
        var scores = logits.softmax(2)[.., .., 1..];                                          // (B, A, C)
        var priors = PriorCorners(images.shape[2], images.shape[3], images.device);           // (A, 4)
        var result = new List<RawDetections>((int)images.shape[0]);
        for (long i = 0; i < images.shape[0]; i++)
        {
            var boxes = _coder.Decode(regression[i], priors);                                 // (A, 4)
            result.Add(new RawDetections(boxes.cpu().data<float>().ToArray(), scores[i].contiguous().cpu().data<float>().ToArray()));
        }
        return result;
    }

    public OnnxGraphBuilder Export(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
        => _network.ExportGraph(input, _priors, _coder, scoreThreshold, iouThreshold, maxDetections, metadata);
}
