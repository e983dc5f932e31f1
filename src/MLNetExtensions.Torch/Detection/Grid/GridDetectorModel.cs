using MLNetExtensions.Detection;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// The grid detector behind <see cref="IDetectorModel"/>. Loss: MSE of the class confidences over every cell (cells
/// without an object weighted by <see cref="NoObjectWeight"/>, as YOLO v1 does, since they vastly outnumber the others)
/// plus MSE of the box values of responsible cells, each divided by the number of objects.
/// </summary>
internal sealed class GridDetectorModel : IDetectorModel
{
    public const float NoObjectWeight = 0.5f;
    private readonly GridNetwork _network;
    private readonly GridBoxCodec _codec;
    private readonly float _localizationWeight;

    public GridDetectorModel(SsdDetectorOptions options, int classCount, Device device)
    {
        int channels = options.Grayscale ? 1 : 3;
        _network = new GridNetwork(options.Backbone, channels, classCount, options.GridSize, options.Normalization, options.WidthMultiplier, options.BackboneWeightsPath);
        var size = _network.FeatureSize(options.InputHeight, options.InputWidth);
        if (size.Height % options.GridSize != 0 || size.Width % options.GridSize != 0)
            throw new ArgumentException($"GridSize {options.GridSize} must divide the network's stride-16 feature map, which is {size.Width}×{size.Height} for a {options.InputWidth}×{options.InputHeight} input. Choose an input size of 16·k·GridSize pixels (e.g. {16 * options.GridSize * 2}) or another grid size.", nameof(options));
        _codec = new GridBoxCodec(options.GridSize, classCount);
        _localizationWeight = options.LocalizationWeight;
        _network.to(device);
    }

    public nn.Module Network => _network;

    public void Dispose() => _network.Dispose();

    public TrainingLoss Loss(Tensor images, IReadOnlyList<DetectionTarget> targets, Random rng)
    {
        var y = _network.call(images);                                                     // (B, S, S, 4 + C)
        int s = _codec.GridSize, c = _codec.ClassCount, b = targets.Count;
        var cls = new float[b * s * s * c];
        var box = new float[b * s * s * 4];
        var resp = new float[b * s * s];
        for (int i = 0; i < b; i++)
        {
            var t = targets[i];
            // Targets are relative to the image: encode on a 1×1 "image".
            var enc = _codec.Encode(t.Boxes, t.Labels.Select(l => (int)l - 1).ToArray(), 1f, 1f);
            enc.ClassTargets.CopyTo(cls, i * s * s * c);
            enc.BoxTargets.CopyTo(box, i * s * s * 4);
            for (int k = 0; k < s * s; k++) resp[i * s * s + k] = enc.Responsible[k] ? 1f : 0f;
        }
        var device = images.device;
        var clsT = tensor(cls).reshape(b, s, s, c).to(device);
        var boxT = tensor(box).reshape(b, s, s, 4).to(device);
        var respT = tensor(resp).reshape(b, s, s, 1).to(device);
        long positives = (long)resp.Sum();
        // Scalars held until the ops return (dotnet/TorchSharp#1434).
        using Scalar norm = (float)Math.Max(1, positives), noObject = NoObjectWeight, one = 1f, localizationWeight = _localizationWeight;
        var weight = respT.Plus(noObject * HeldArithmetic.Minus(one, respT));              // (B, S, S, 1)
        var classification = ((y[.., .., .., 4..] - clsT).Squared() * weight).sum() / norm;
        var localization = ((y[.., .., .., ..4] - boxT).Squared() * respT).sum() / norm * localizationWeight;
        return new DetectionLossParts(classification, localization, positives, b * s * s - positives).ToTrainingLoss();
    }

    public List<RawDetections> Predict(Tensor images)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var y = _network.call(images).cpu();                                                 // (B, S, S, 4 + C)
        int s = _codec.GridSize, c = _codec.ClassCount;
        var result = new List<RawDetections>();
        for (long i = 0; i < y.shape[0]; i++)
        {
            var values = y[i].reshape(s * s, 4 + c);
            var raw = values[.., ..4].contiguous().data<float>().ToArray();
            var boxes = new float[s * s * 4];
            for (int cell = 0; cell < s * s; cell++)
            {
                var (x0, y0, x1, y1) = _codec.DecodeCell(cell / s, cell % s, raw[4 * cell], raw[4 * cell + 1], raw[4 * cell + 2], raw[4 * cell + 3], 1f, 1f);
                boxes[4 * cell] = x0; boxes[4 * cell + 1] = y0; boxes[4 * cell + 2] = x1; boxes[4 * cell + 3] = y1;
            }
            result.Add(new RawDetections(boxes, values[.., 4..].contiguous().data<float>().ToArray()));
        }
        return result;
    }

    public OnnxGraphBuilder Export(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections)
    {
        var g = new OnnxGraphBuilder("grid_detector") { Metadata = metadata };
        var x = g.AddInput(ScoringColumns.OnnxPixels, OnnxGraphBuilder.BatchDimension, input.Channels, input.Height, input.Width);
        var (values, scores) = _network.Export(g, x, input.Height, input.Width);            // (N, S·S, 4), (N, S·S, C)
        int s = _codec.GridSize;
        // cx = (col + 0.5 + 0.5·tx) / S, w = (tw + 1) / 2: one Mul and one Add with per-cell constants.
        var scale = new float[s * s * 4];
        var offset = new float[s * s * 4];
        for (int cell = 0; cell < s * s; cell++)
        {
            scale[4 * cell] = scale[4 * cell + 1] = 0.5f / s;
            scale[4 * cell + 2] = scale[4 * cell + 3] = 0.5f;
            offset[4 * cell] = (cell % s + 0.5f) / s;
            offset[4 * cell + 1] = (cell / s + 0.5f) / s;
            offset[4 * cell + 2] = offset[4 * cell + 3] = 0.5f;
        }
        string decoded;
        using (g.BeginScope("decode"))
        {
            var cs = OnnxOps.Add(g, OnnxOps.Mul(g, values, g.AddInitializer("scale", scale, s * s, 4)), g.AddInitializer("offset", offset, s * s, 4)); // (N, S·S, 4) cx, cy, w, h
            var centre = OnnxOps.Slice(g, cs, [0], [2], [2]);
            var half = OnnxOps.Mul(g, OnnxOps.Slice(g, cs, [2], [4], [2]), g.AddInitializer("half", [0.5f]));
            decoded = OnnxOps.Concat(g, [OnnxOps.Sub(g, centre, half), OnnxOps.Add(g, centre, half)], axis: 2);
        }
        var post = OnnxOps.Identity(g, g.AddInitializer("postprocess", [scoreThreshold, iouThreshold, maxDetections], 3));
        g.AddOutput(decoded, ScoringColumns.OnnxBoxes, OnnxGraphBuilder.BatchDimension, s * s, 4);
        g.AddOutput(scores, ScoringColumns.OnnxScores, OnnxGraphBuilder.BatchDimension, s * s, _codec.ClassCount);
        g.AddOutput(post, ScoringColumns.OnnxPostProcess, 3);
        return g;
    }
}
