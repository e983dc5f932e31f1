using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// The grid detector ("one object per cell"): normalisation, the SSD backbone's first maps, an adaptive pool to
/// S×S, and a 1×1 head giving per cell 4 box values through tanh and C class confidences through sigmoid.
/// </summary>
public sealed class GridNetwork : nn.Module<Tensor, Tensor>
{
    private readonly InputNormalization normalize;
    private readonly SsdBackbone backbone;
    private readonly ConvBnAct neck;
    private readonly Conv2d head;
    private readonly int _classCount;

    public GridNetwork(DetectorBackbone backboneKind, int inChannels, int classCount, int gridSize, PixelNormalization normalization, float widthMultiplier = 1f, string? backboneWeightsPath = null)
        : base(nameof(GridNetwork))
    {
        _classCount = classCount;
        GridSize = gridSize;
        normalize = new InputNormalization(normalization);
        backbone = new SsdBackbone(backboneKind, inChannels, widthMultiplier, backboneWeightsPath);
        long c16 = backbone.OutChannels[1];
        neck = new ConvBnAct(c16, c16);
        head = nn.Conv2d(c16, 4 + classCount, 1);
        RegisterComponents();
    }

    public int GridSize { get; }

    /// <summary>(N, C, H, W) raw pixels → (N, S, S, 4 + C): tanh box values then sigmoid class confidences.</summary>
    /// <summary>Whether the network computes in channels-last memory on the CPU (<see cref="ChannelsLastLayout"/>): the
    /// same values, faster training there. True; false is NCHW, for comparisons.</summary>
    internal bool ChannelsLast { get; set; } = true;

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var normalized = normalize.call(images);
        var maps = backbone.call(ChannelsLast ? ChannelsLastLayout.Apply(normalized) : normalized);
        var x = F.adaptive_avg_pool2d(neck.call(maps[1]), new long[] { GridSize, GridSize });
        var y = head.call(x).permute(0, 2, 3, 1);                                     // (N, S, S, 4 + C)
        var boxes = y[.., .., .., ..4].tanh();
        var classes = y[.., .., .., 4..].sigmoid();
        return cat([boxes, classes], 3).MoveToOuterDisposeScope();
    }

    /// <summary>Emits the network; returns (N, S·S, 4) tanh box values and (N, S·S, C) confidences.</summary>
    internal (string Boxes, string Scores) Export(OnnxGraphBuilder g, string input, int inputHeight, int inputWidth)
    {
        string x;
        using (g.BeginScope("normalize")) x = normalize.Export(g, input);
        string[] maps;
        using (g.BeginScope("backbone")) maps = backbone.Export(g, x);
        using (g.BeginScope("neck")) x = neck.Export(g, maps[1]);
        // Adaptive average pooling to S×S is a plain AveragePool when the map divides evenly, which the input size
        // is checked for at training time.
        var size = FeatureSize(inputHeight, inputWidth);
        long kh = size.Height / GridSize, kw = size.Width / GridSize;
        if (kh > 1 || kw > 1) x = OnnxOps.AveragePool(g, x, [kh, kw], [kh, kw], [0, 0, 0, 0], countIncludePad: false, ceilMode: false);
        using (g.BeginScope("head")) x = MLNetExtensions.Torch.Onnx.ConvExport.Emit(g, head, "", null, null, x);
        x = OnnxOps.Reshape(g, OnnxOps.Transpose(g, x, [0, 2, 3, 1]), [0, -1, 4 + _classCount]);   // (N, S·S, 4 + C)
        var boxes = OnnxOps.Tanh(g, OnnxOps.Slice(g, x, [0], [4], [2]));
        var scores = OnnxOps.Sigmoid(g, OnnxOps.Slice(g, x, [4], [long.MaxValue], [2]));
        return (boxes, scores);
    }

    /// <summary>Size of the stride-16 map the grid is pooled from.</summary>
    public (int Height, int Width) FeatureSize(int inputHeight, int inputWidth)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = training;
        eval();
        var maps = backbone.call(normalize.call(zeros(1, InChannels, inputHeight, inputWidth,
            device: parameters().First().device)));
        if (wasTraining) train();
        return ((int)maps[1].shape[2], (int)maps[1].shape[3]);
    }

    private long InChannels => parameters().First().shape[1];
}
