using MLNetExtensions.Detection;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// SSD (Liu et al. 2016): normalisation, a six-map backbone, and per-map 3×3 heads for class scores (C+1, class 0 =
/// background) and box offsets of every default box. Decoding and NMS live outside the network (in the ONNX graph
/// and the scoring mapping), as in torchvision.
/// </summary>
public sealed class SsdNetwork : nn.Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)>
{
    private readonly InputNormalization normalize;
    private readonly SsdBackbone backbone;
    private readonly SsdHead classification_head;
    private readonly SsdHead regression_head;

    public SsdNetwork(DetectorBackbone backboneKind, int inChannels, int classCount, int[] boxesPerLocation,
        PixelNormalization normalization, float widthMultiplier = 1f, string? backboneWeightsPath = null, bool topDownFusion = false) : base(nameof(SsdNetwork))
    {
        ClassCount = classCount;
        normalize = new InputNormalization(normalization);
        backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath, topDownFusion);
        if (boxesPerLocation.Length != backbone.OutChannels.Length)
            throw new ArgumentException($"SSD has {backbone.OutChannels.Length} feature maps; {boxesPerLocation.Length} box counts were given.");
        classification_head = new SsdHead(backbone.OutChannels, boxesPerLocation, classCount + 1);
        regression_head = new SsdHead(backbone.OutChannels, boxesPerLocation, 4);
        RegisterComponents();
    }

    public int ClassCount { get; }

    /// <summary>Whether the network computes in channels-last memory on the CPU (<see cref="ChannelsLastLayout"/>): the
    /// same values, faster training there. True; false is NCHW, which the <c>pytorch-parity</c> bench times against it.</summary>
    internal bool ChannelsLast { get; set; } = true;

    /// <summary>(N, C, H, W) raw pixels → class logits (N, A, C+1) and box offsets (N, A, 4).</summary>
    public override (Tensor ClassLogits, Tensor BoxRegression) forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = normalize.call(images);
        if (ChannelsLast) x = ChannelsLastLayout.Apply(x);
        var maps = backbone.call(x);
        var cls = classification_head.call(maps);
        var reg = regression_head.call(maps);
        return (cls.MoveToOuterDisposeScope(), reg.MoveToOuterDisposeScope());
    }

    /// <summary>Sizes (H, W) of the six feature maps for an input of the given size, found by running the backbone once.</summary>
    public (int Height, int Width)[] FeatureMapSizes(int channels, int height, int width)
    {
        using var scope = NewDisposeScope();
        bool wasTraining = training;
        eval();
        using var _ = no_grad();
        var maps = backbone.call(normalize.call(zeros(1, channels, height, width, device: backbone.parameters().First().device)));
        if (wasTraining) train();
        return maps.Select(m => ((int)m.shape[2], (int)m.shape[3])).ToArray();
    }

    /// <summary>
    /// Builds the ONNX graph: raw pixels in, decoded boxes (N, A, 4) as corners relative to the input, class
    /// probabilities (N, A, C) without background, and the post-processing settings out.
    /// </summary>
    public OnnxGraphBuilder ExportGraph(NetworkInput input, DefaultBoxes priors, MLNetExtensions.Torch.Boxes.BoxCoder coder,
        float scoreThreshold, float iouThreshold, int maxDetections, OnnxModelMetadata metadata)
    {
        var g = new OnnxGraphBuilder("ssd") { Metadata = metadata };
        var x = g.AddInput(ScoringColumns.OnnxPixels, OnnxGraphBuilder.BatchDimension, input.Channels, input.Height, input.Width);
        string normalized;
        using (g.BeginScope("normalize")) normalized = normalize.Export(g, x);
        string[] maps;
        using (g.BeginScope("backbone")) maps = backbone.Export(g, normalized);
        string logits, regression;
        using (g.BeginScope("classification_head")) logits = classification_head.Export(g, maps);
        using (g.BeginScope("regression_head")) regression = regression_head.Export(g, maps);

        var probabilities = OnnxOps.Softmax(g, logits, axis: 2);
        var scores = OnnxOps.Slice(g, probabilities, starts: [1], ends: [long.MaxValue], axes: [2]);         // (N, A, C)
        var boxes = SsdBoxDecoding.Export(g, regression, priors, coder);                                      // (N, A, 4)
        var post = OnnxOps.Identity(g, g.AddInitializer("postprocess", [scoreThreshold, iouThreshold, maxDetections], 3));
        g.AddOutput(boxes, ScoringColumns.OnnxBoxes, OnnxGraphBuilder.BatchDimension, priors.Count, 4);
        g.AddOutput(scores, ScoringColumns.OnnxScores, OnnxGraphBuilder.BatchDimension, priors.Count, ClassCount);
        g.AddOutput(post, ScoringColumns.OnnxPostProcess, 3);
        return g;
    }
}
