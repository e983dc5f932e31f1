using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// A small ResNet-style segmentation backbone (basic residual blocks 32-64-128-256) that trains in minutes on a CPU.
/// As in DeepLab, the last stages trade stride for dilation: output stride 16 keeps stride 2 in <c>layer3</c> and
/// dilates <c>layer4</c> by 2; output stride 8 also replaces <c>layer3</c>'s stride with dilation 2 and dilates
/// <c>layer4</c> by 4. Stages: <c>stem</c> (stride 2), <c>layer1</c> (stride 4, the low-level features),
/// <c>layer2</c> (8), <c>layer3</c> (16 or 8), <c>layer4</c> (same stride, the high-level features).
/// </summary>
public sealed class ResNetLiteBackbone : nn.Module<Tensor, (Tensor LowLevel, Tensor HighLevel)>, ISegmentationBackbone
{
    private readonly ConvBnAct stem;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;

    /// <summary>Creates the backbone.</summary>
    /// <param name="inChannels">Image channels (3 for RGB).</param>
    /// <param name="outputStride">16 or 8.</param>
    /// <param name="widthMultiplier">Scales every channel count (rounded to a multiple of 8, at least 8).</param>
    public ResNetLiteBackbone(long inChannels, int outputStride = 16, float widthMultiplier = 1f) : base(nameof(ResNetLiteBackbone))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        if (outputStride is not (8 or 16))
            throw new ArgumentOutOfRangeException(nameof(outputStride), outputStride, "The output stride must be 8 or 16.");
        if (!(widthMultiplier > 0)) throw new ArgumentOutOfRangeException(nameof(widthMultiplier), widthMultiplier, "The width multiplier must be positive.");
        // Channel counts are rounded to multiples of 8: libtorch 2.10's CPU 3×3 convolution gives batch-dependent
        // (wrong) results for some other counts (e.g. 40 or 44 input channels at batch 2 on small maps).
        long W(long c) => Math.Max(8, (long)Math.Round(c * widthMultiplier / 8) * 8);
        bool os8 = outputStride == 8;
        stem = new ConvBnAct(inChannels, W(32), stride: 2);
        layer1 = nn.Sequential(new ResidualBlock(W(32), W(64), stride: 2), new ResidualBlock(W(64), W(64)));
        layer2 = nn.Sequential(new ResidualBlock(W(64), W(128), stride: 2));
        layer3 = nn.Sequential(os8 ? new ResidualBlock(W(128), W(256), dilation: 2) : new ResidualBlock(W(128), W(256), stride: 2));
        long d = os8 ? 4 : 2;
        layer4 = nn.Sequential(new ResidualBlock(W(256), W(256), dilation: d), new ResidualBlock(W(256), W(256), dilation: d));
        LowLevelChannels = W(64);
        HighLevelChannels = W(256);
        OutputStride = outputStride;
        RegisterComponents();
    }

    public long LowLevelChannels { get; }
    public long HighLevelChannels { get; }
    public int OutputStride { get; }
    public IReadOnlyList<string> StageNames { get; } = ["stem", "layer1", "layer2", "layer3", "layer4"];

    /// <summary>Each stage is the direct child of its name.</summary>
    public IReadOnlyList<nn.Module> StageModules(string stage)
        => StageNames.Contains(stage) ? [named_children().Single(c => c.name == stage).module]
            : throw new ArgumentException($"The backbone has no stage '{stage}'. Its stages are: {string.Join(", ", StageNames)}.", nameof(stage));

    /// <summary>(N, C, H, W) → low-level (N, 64w, H/4, W/4) and high-level (N, 256w, H/OS, W/OS).</summary>
    public override (Tensor LowLevel, Tensor HighLevel) forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var low = layer1.call(stem.call(input));
        var high = layer4.call(layer3.call(layer2.call(low)));
        return (low.MoveToOuterDisposeScope(), high.MoveToOuterDisposeScope());
    }

    public (string LowLevel, string HighLevel) Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string x = OnnxModuleExport.ExportChild(graph, "stem", stem, input);
        string low = OnnxModuleExport.ExportChild(graph, "layer1", layer1, x);
        x = OnnxModuleExport.ExportChild(graph, "layer2", layer2, low);
        x = OnnxModuleExport.ExportChild(graph, "layer3", layer3, x);
        return (low, OnnxModuleExport.ExportChild(graph, "layer4", layer4, x));
    }
}
