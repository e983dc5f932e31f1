using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// ResNet's basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the shortcut is the identity,
/// or a strided 1×1 Conv2d + BatchNorm2d (<c>downsample</c>) when the stride or the channel count changes.
/// Children are named as in torchvision's <c>BasicBlock</c> (<c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>,
/// <c>downsample.0</c>, <c>downsample.1</c>), so ResNet-18/34 weights load by key.
/// </summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv2d conv1;
    private readonly BatchNorm bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm bn2;
    private readonly Sequential? downsample;

    /// <summary>Creates the block; the downsample shortcut is added when the stride or channel count changes.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="stride">Stride of the first convolution (and of the shortcut).</param>
    /// <param name="dilation">Dilation of both 3×3 convolutions (DeepLab replaces strides with dilation).</param>
    public ResidualBlock(long inChannels, long outChannels, long stride = 1, long dilation = 1)
        : base(nameof(ResidualBlock))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: dilation, dilation: dilation, bias: false);
        bn1 = new Training.HeldScalars.BatchNorm2d(outChannels);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: dilation, dilation: dilation, bias: false);
        bn2 = new Training.HeldScalars.BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
            downsample = nn.Sequential(nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), new Training.HeldScalars.BatchNorm2d(outChannels));
        RegisterComponents();
    }

    /// <summary>True when the shortcut is a strided 1×1 projection rather than the identity.</summary>
    public bool HasDownsample => downsample != null;

    /// <summary>(N, in, H, W) → (N, out, H / stride, W / stride).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = torch.nn.functional.relu(bn1.call(PaddedConvolution.Apply(conv1, input)));
        y = bn2.call(PaddedConvolution.Apply(conv2, y));
        var shortcut = downsample is null ? input : downsample.call(input);
        return torch.nn.functional.relu(y.Plus(shortcut)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = OnnxOps.Relu(graph, ConvExport.Emit(graph, conv1, "conv1", bn1, "bn1", input));
        y = ConvExport.Emit(graph, conv2, "conv2", bn2, "bn2", y);
        var shortcut = downsample is null ? input : OnnxModuleExport.ExportChild(graph, "downsample", downsample, input);
        return OnnxOps.Relu(graph, OnnxOps.Add(graph, y, shortcut));
    }
}
