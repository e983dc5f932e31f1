using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// Faster R-CNN behind <see cref="IDetectorModel"/>: targets in pixels, the four named losses and the RPN accuracy,
/// eval outputs in the scoring contract, the one-graph export.
/// </summary>
internal sealed class FasterRcnnDetectorModel : IDetectorModel
{
    private readonly FasterRcnnNetwork _network;

    public FasterRcnnDetectorModel(FasterRcnnDetectorOptions o, int classCount, Device device)
    {
        _network = new FasterRcnnNetwork(o.Backbone, o.Grayscale ? 1 : 3, classCount, o.Normalization, o.WidthMultiplier, o.BackboneWeightsPath,
            o.FeatureStride, o.InputHeight, o.InputWidth, new AnchorGenerator(o.AnchorSizes, o.AnchorAspectRatios), o.RpnSettings, o.RoiSettings,
            o.Fpn ? o.FpnOutChannels : null);
        _network.to(device);
    }

    public nn.Module Network => _network;

    public void Dispose() => _network.Dispose();
    public FasterRcnnNetwork Faster => _network;

    public TrainingLoss Loss(Tensor images, IReadOnlyList<DetectionTarget> targets, Random rng)
    {
        float w = images.shape[3], h = images.shape[2];   // the batch's size: the input's, or a multi-scale step's
        var scale = tensor(new[] { w, h, w, h }, device: images.device);
        var boxes = targets.Select(t => tensor(t.Boxes, ScalarType.Float32).reshape(-1, 4).to(images.device) * scale).ToList();   // (G, 4) pixels
        var labels = targets.Select(t => tensor(t.Labels, ScalarType.Int64).to(images.device)).ToList();                         // (G)
        using var generator = new Generator((ulong)rng.NextInt64(long.MaxValue));
        var l = _network.Loss(images, boxes, labels, generator);
        return new TrainingLoss(l.RpnObjectness.Plus(l.RpnBox).Plus(l.RoiClassification).Plus(l.RoiBox),
            [("rpn_objectness", l.RpnObjectness), ("rpn_box", l.RpnBox), ("roi_classification", l.RoiClassification), ("roi_box", l.RoiBox)],
            [("rpn_accuracy", l.RpnAccuracy)]);
    }

    public List<RawDetections> Predict(Tensor images)
    {
        using var scope = NewDisposeScope();
        var (boxes, scores) = _network.Predict(images);                                            // (N, K·C, 4), (N, K·C, C)
        var result = new List<RawDetections>((int)images.shape[0]);
        for (long i = 0; i < images.shape[0]; i++)
            result.Add(new RawDetections(boxes[i].contiguous().cpu().data<float>().ToArray(), scores[i].contiguous().cpu().data<float>().ToArray()));
        return result;
    }

    public OnnxGraphBuilder Export(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
        => _network.ExportGraph(input, metadata, scoreThreshold, iouThreshold, maxDetections);
}
