using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Conv2d → BatchNorm2d → activation, torchvision's <c>Conv2dNormActivation</c>: the convolution and the norm are
/// children <c>0</c> and <c>1</c>, so the state_dict keys (<c>0.weight</c>, <c>1.running_mean</c>...) match
/// torchvision's. Exported as one Conv (BatchNorm folded in) plus the activation.
/// </summary>
public sealed class ConvBnAct : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    [ComponentName(Name = "0")]
    private readonly Conv2d conv;

    [ComponentName(Name = "1")]
    private readonly BatchNorm? bn;

    /// <summary>Creates the block; the convolution has a bias only when there is no BatchNorm.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels; a multiple of <paramref name="groups"/>.</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding on each side; null for "same"-size padding dilation · (k - 1) / 2.</param>
    /// <param name="dilation">Dilation (atrous rate).</param>
    /// <param name="groups">Groups; <paramref name="inChannels"/> for a depthwise convolution.</param>
    /// <param name="activation">Activation after the norm.</param>
    /// <param name="batchNorm">Whether a BatchNorm2d follows the convolution.</param>
    /// <param name="negativeSlope">Slope below zero for <see cref="Activation.LeakyReLU"/>.</param>
    /// <param name="bnEps">BatchNorm epsilon.</param>
    /// <param name="bnMomentum">BatchNorm running-statistics momentum.</param>
    public ConvBnAct(long inChannels, long outChannels, long kernelSize = 3, long stride = 1, long? padding = null, long dilation = 1,
        long groups = 1, Activation activation = Activation.ReLU, bool batchNorm = true, double negativeSlope = 0.01,
        double bnEps = 1e-5, double bnMomentum = 0.1)
        : base(nameof(ConvBnAct))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dilation, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"groups ({groups}) must divide both inChannels ({inChannels}) and outChannels ({outChannels}).", nameof(groups));
        if (padding is < 0)
            throw new ArgumentOutOfRangeException(nameof(padding), padding, "padding must be non-negative.");
        ActivationFunctions.Check(activation, negativeSlope);
        if (!(bnEps > 0)) throw new ArgumentOutOfRangeException(nameof(bnEps), bnEps, "bnEps must be positive.");

        long pad = padding ?? dilation * (kernelSize - 1) / 2;
        conv = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: pad, dilation: dilation, groups: groups, bias: !batchNorm);
        bn = batchNorm ? new Training.HeldScalars.BatchNorm2d(outChannels, eps: bnEps, momentum: bnMomentum) : null;
        Activation = activation;
        NegativeSlope = negativeSlope;
        RegisterComponents();
    }

    /// <summary>The convolution (state_dict prefix <c>0.</c>).</summary>
    public Conv2d Conv => conv;

    /// <summary>The norm (state_dict prefix <c>1.</c>), or null when the block has none.</summary>
    public BatchNorm? BatchNorm => bn;

    /// <summary>The activation after the norm.</summary>
    public Activation Activation { get; }
    /// <summary>Slope below zero when <see cref="Activation"/> is <see cref="Activation.LeakyReLU"/>.</summary>
    public double NegativeSlope { get; }

    /// <summary>(N, in, H, W) → (N, out, H', W').</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = PaddedConvolution.Apply(conv, input);
        if (bn != null) y = bn.call(y);
        return ActivationFunctions.Apply(y, Activation, NegativeSlope).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = ConvExport.Emit(graph, conv, "0", bn, "1", input);
        return ActivationFunctions.Export(graph, y, Activation, NegativeSlope);
    }
}
