using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Backbones;

/// <summary>
/// ResNet-50's bottleneck block (torchvision's "ResNet v1.5": the stride sits on the 3×3 convolution):
/// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)), 1×1 reduce to <c>planes</c>, 3×3, 1×1 expand
/// to 4·<c>planes</c>. Children are named as in torchvision's <c>Bottleneck</c> (<c>conv1..3</c>, <c>bn1..3</c>,
/// <c>downsample.0/1</c>), so ResNet-50/101 weights load by key.
/// </summary>
public sealed class ResNetBottleneck : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    private readonly Conv2d conv1;
    private readonly BatchNorm bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm bn2;
    private readonly Conv2d conv3;
    private readonly BatchNorm bn3;
    private readonly Sequential? downsample;

    /// <summary>Creates the block; the downsample shortcut is added when the stride or channel count changes.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="planes">Channels of the 3×3 convolution; the output has <see cref="Expansion"/>·planes.</param>
    /// <param name="stride">Stride of the 3×3 convolution and of the shortcut.</param>
    /// <param name="dilation">Dilation of the 3×3 convolution.</param>
    public ResNetBottleneck(long inChannels, long planes, long stride = 1, long dilation = 1) : base(nameof(ResNetBottleneck))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(planes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        long outChannels = planes * Expansion;
        conv1 = nn.Conv2d(inChannels, planes, 1, bias: false);
        bn1 = new Training.HeldScalars.BatchNorm2d(planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: dilation, dilation: dilation, bias: false);
        bn2 = new Training.HeldScalars.BatchNorm2d(planes);
        conv3 = nn.Conv2d(planes, outChannels, 1, bias: false);
        bn3 = new Training.HeldScalars.BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
            downsample = nn.Sequential(nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), new Training.HeldScalars.BatchNorm2d(outChannels));
        RegisterComponents();
    }

    /// <summary>True when the shortcut is a strided 1×1 projection rather than the identity.</summary>
    public bool HasDownsample => downsample != null;

    /// <summary>(N, in, H, W) → (N, 4·planes, H / stride, W / stride).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = nn.functional.relu(bn1.call(PaddedConvolution.Apply(conv1, input)));
        y = nn.functional.relu(bn2.call(PaddedConvolution.Apply(conv2, y)));
        y = bn3.call(conv3.call(y));
        var shortcut = downsample is null ? input : downsample.call(input);
        return nn.functional.relu(y.Plus(shortcut)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = OnnxOps.Relu(graph, ConvExport.Emit(graph, conv1, "conv1", bn1, "bn1", input));
        y = OnnxOps.Relu(graph, ConvExport.Emit(graph, conv2, "conv2", bn2, "bn2", y));
        y = ConvExport.Emit(graph, conv3, "conv3", bn3, "bn3", y);
        var shortcut = downsample is null ? input : OnnxModuleExport.ExportChild(graph, "downsample", downsample, input);
        return OnnxOps.Relu(graph, OnnxOps.Add(graph, y, shortcut));
    }
}
