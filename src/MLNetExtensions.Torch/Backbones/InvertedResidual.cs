using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Backbones;

/// <summary>
/// MobileNetV2's inverted residual: 1×1 expansion to t·in channels (ReLU6; left out when t = 1), 3×3 depthwise
/// (ReLU6, carrying the stride or dilation), 1×1 linear projection with BatchNorm, plus the input when the stride is 1
/// and the channel count is kept. One child <c>conv</c> with torchvision's layout, so the keys are
/// <c>conv.0.0.weight</c>, ..., <c>conv.2.weight</c>, <c>conv.3.running_mean</c> (t ≠ 1) as in torchvision.
/// </summary>
public sealed class InvertedResidual : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Sequential conv;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="stride">Stride of the depthwise convolution (1 or 2).</param>
    /// <param name="expandRatio">Expansion t of the hidden width round(in·t).</param>
    /// <param name="dilation">Dilation of the depthwise convolution.</param>
    public InvertedResidual(long inChannels, long outChannels, long stride, int expandRatio, long dilation = 1) : base(nameof(InvertedResidual))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        if (stride is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be 1 or 2.");
        ArgumentOutOfRangeException.ThrowIfLessThan(expandRatio, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        long hidden = inChannels * expandRatio;
        var layers = new List<nn.Module<Tensor, Tensor>>();
        if (expandRatio != 1)
            layers.Add(new ConvBnAct(inChannels, hidden, kernelSize: 1, activation: Activation.ReLU6));
        layers.Add(new ConvBnAct(hidden, hidden, kernelSize: 3, stride: stride, dilation: dilation, groups: hidden, activation: Activation.ReLU6));
        layers.Add(nn.Conv2d(hidden, outChannels, 1, bias: false));
        layers.Add(new Training.HeldScalars.BatchNorm2d(outChannels));
        conv = nn.Sequential(layers.ToArray());
        UsesResidual = stride == 1 && inChannels == outChannels;
        RegisterComponents();
    }

    /// <summary>True when the input is added to the output (stride 1, same channel count).</summary>
    public bool UsesResidual { get; }

    /// <summary>(N, in, H, W) → (N, out, H / stride, W / stride).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = conv.call(input);
        return (UsesResidual ? input.Plus(y) : y).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = OnnxModuleExport.ExportChild(graph, "conv", conv, input);
        return UsesResidual ? OnnxOps.Add(graph, input, y) : y;
    }
}
