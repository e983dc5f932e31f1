using MLNetExtensions.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>The activation a block applies after its convolution.</summary>
public enum Activation
{
    /// <summary>No activation (a linear projection, as in MobileNetV2's last 1×1 convolution).</summary>
    None,
    ReLU,

    /// <summary>min(max(x, 0), 6), as in MobileNetV2.</summary>
    ReLU6,

    /// <summary>x for x ≥ 0, slope · x below; the slope is given with the block.</summary>
    LeakyReLU,
    Sigmoid,
    Tanh,
}

/// <summary>Applies an <see cref="Activation"/> in torch and writes it as ONNX, from one switch each.</summary>
internal static class ActivationFunctions
{
    public static Tensor Apply(Tensor x, Activation activation, double negativeSlope) => activation switch
    {
        Activation.None => x.alias(),
        Activation.ReLU => torch.nn.functional.relu(x),
        Activation.ReLU6 => torch.nn.functional.relu6(x),
        Activation.LeakyReLU => LeakyReLU(x, negativeSlope),
        Activation.Sigmoid => torch.sigmoid(x),
        Activation.Tanh => torch.tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>TorchSharp's <c>leaky_relu(double)</c> makes its Scalar inline; this one is held until the op returns (dotnet/TorchSharp#1434).</summary>
    private static Tensor LeakyReLU(Tensor x, double negativeSlope)
    {
        using Scalar slope = negativeSlope;
        return x.leaky_relu(slope);
    }

    public static string Export(OnnxGraphBuilder g, string x, Activation activation, double negativeSlope) => activation switch
    {
        Activation.None => x,
        Activation.ReLU => OnnxOps.Relu(g, x),
        Activation.ReLU6 => OnnxOps.Relu6(g, x),
        Activation.LeakyReLU => OnnxOps.LeakyRelu(g, x, (float)negativeSlope),
        Activation.Sigmoid => OnnxOps.Sigmoid(g, x),
        Activation.Tanh => OnnxOps.Tanh(g, x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    public static void Check(Activation activation, double negativeSlope)
    {
        if (!Enum.IsDefined(activation))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (!double.IsFinite(negativeSlope))
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "The LeakyReLU slope must be finite.");
    }
}
