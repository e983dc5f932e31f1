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
    private readonly DefaultBoxes _priors;
    private readonly Tensor _priorCorners;   // (A, 4) relative corners
    private readonly BoxCoder _coder = BoxCoder.FromVariances();
    private readonly Matcher _matcher;
    private readonly SsdLoss _loss;
    private readonly int _classCount;

    public SsdDetectorModel(SsdDetectorOptions options, int classCount, Device device)
    {
        _classCount = classCount;
        var boxesPerLocation = options.AspectRatios.Select(a => 2 + 2 * a.Length).ToArray();
        int channels = options.Grayscale ? 1 : 3;
        _network = new SsdNetwork(options.Backbone, channels, classCount, boxesPerLocation, options.Normalization, options.WidthMultiplier, options.BackboneWeightsPath, options.TopDownFusion);
        var sizes = _network.FeatureMapSizes(channels, options.InputHeight, options.InputWidth);
        _priors = new DefaultBoxes(sizes, options.AspectRatios, options.MinScale, options.MaxScale);
        _network.to(device);
        using (NewDisposeScope())   // the intermediate copies are freed now, not left to the finalizer
            _priorCorners = tensor(_priors.ToCorners(1f, 1f), ScalarType.Float32).reshape(-1, 4).to(device).MoveToOuterDisposeScope();
        _matcher = new SsdMatcher(options.MatchIouThreshold, options.IgnoreIouThreshold);
        _loss = new SsdLoss(options.NegativePositiveRatio, options.LocalizationLoss, options.LocalizationWeight);
    }

    public nn.Module Network => _network;
    public DefaultBoxes Priors => _priors;

    public void Dispose()
    {
        _network.Dispose();
        _priorCorners.Dispose();
    }

    public TrainingLoss Loss(Tensor images, IReadOnlyList<DetectionTarget> targets, Random rng)
    {
        var (logits, regression) = _network.call(images);                  // (B, A, C+1), (B, A, 4)
        var (labels, encoded) = MakeTargets(targets, images.device);        // (B, A), (B, A, 4)
        return _loss.Compute(logits, regression, labels, encoded).ToTrainingLoss();
    }

    /// <summary>Per default box: the matched class (0 = background, -1 = ignored) and the encoded matched box.</summary>
    internal (Tensor Labels, Tensor Boxes) MakeTargets(IReadOnlyList<DetectionTarget> targets, Device device)
    {
        using var scope = NewDisposeScope();
        long a = _priorCorners.shape[0];
        var labels = new List<Tensor>(targets.Count);
        var boxes = new List<Tensor>(targets.Count);
        foreach (var t in targets)
        {
            if (t.Count == 0)
            {
                labels.Add(zeros(a, dtype: ScalarType.Int64, device: device));
                boxes.Add(zeros(a, 4, device: device));
                continue;
            }
            var gt = tensor(t.Boxes, ScalarType.Float32).reshape(-1, 4).to(device);        // (G, 4)
            var gtLabels = tensor(t.Labels, ScalarType.Int64).to(device);                   // (G)
            var matched = _matcher.Match(BoxIou.Pairwise(gt, _priorCorners));               // (A), -1 background, -2 ignored
            var safe = matched.clamp_min(0);
            var unmatched = where(matched.eq(Matcher.BetweenThresholds), full_like(safe, SsdLoss.Ignored), zeros_like(safe));
            labels.Add(where(matched.ge(0), gtLabels.index_select(0, safe), unmatched));
            boxes.Add(_coder.Encode(gt.index_select(0, safe), _priorCorners));
        }
        return (stack(labels).MoveToOuterDisposeScope(), stack(boxes).MoveToOuterDisposeScope());
    }

    public List<RawDetections> Predict(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (logits, regression) = _network.call(images);
        var scores = logits.softmax(2)[.., .., 1..];                                          // (B, A, C)
        var result = new List<RawDetections>((int)images.shape[0]);
        for (long i = 0; i < images.shape[0]; i++)
        {
            var boxes = _coder.Decode(regression[i], _priorCorners);                         // (A, 4)
            result.Add(new RawDetections(boxes.cpu().data<float>().ToArray(), scores[i].contiguous().cpu().data<float>().ToArray()));
        }
        return result;
    }

    public OnnxGraphBuilder Export(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
        => _network.ExportGraph(input, _priors, _coder, scoreThreshold, iouThreshold, maxDetections, metadata);
}
