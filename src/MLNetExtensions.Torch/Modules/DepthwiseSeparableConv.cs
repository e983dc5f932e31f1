using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// A 3×3 depthwise <see cref="ConvBnAct"/> (one filter per channel, carrying the stride) followed by a 1×1
/// pointwise <see cref="ConvBnAct"/> that mixes channels, as in MobileNet: about k² times fewer multiply-adds than
/// a full k×k convolution. Children: <c>depthwise</c>, <c>pointwise</c>.
/// </summary>
public sealed class DepthwiseSeparableConv : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly ConvBnAct depthwise;
    private readonly ConvBnAct pointwise;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels (also the depthwise output channels).</param>
    /// <param name="outChannels">Output channels of the pointwise convolution.</param>
    /// <param name="stride">Stride of the depthwise convolution.</param>
    /// <param name="dilation">Dilation of the depthwise convolution.</param>
    /// <param name="activation">Activation after each convolution.</param>
    /// <param name="pointwiseActivation">Activation after the pointwise convolution; null for <paramref name="activation"/>
    /// (<see cref="Activation.None"/> gives MobileNetV2's linear bottleneck).</param>
    public DepthwiseSeparableConv(long inChannels, long outChannels, long stride = 1, long dilation = 1,
        Activation activation = Activation.ReLU, Activation? pointwiseActivation = null)
        : base(nameof(DepthwiseSeparableConv))
    {
        depthwise = new ConvBnAct(inChannels, inChannels, kernelSize: 3, stride: stride, dilation: dilation, groups: inChannels, activation: activation);
        pointwise = new ConvBnAct(inChannels, outChannels, kernelSize: 1, activation: pointwiseActivation ?? activation);
        RegisterComponents();
    }

    /// <summary>The per-channel 3×3 convolution (state_dict prefix <c>depthwise.</c>).</summary>
    public ConvBnAct Depthwise => depthwise;
    /// <summary>The 1×1 channel-mixing convolution (state_dict prefix <c>pointwise.</c>).</summary>
    public ConvBnAct Pointwise => pointwise;

    /// <summary>(N, in, H, W) → (N, out, H / stride, W / stride).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        return pointwise.call(depthwise.call(input)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = OnnxModuleExport.ExportChild(graph, "depthwise", depthwise, input);
        return OnnxModuleExport.ExportChild(graph, "pointwise", pointwise, y);
    }
}
