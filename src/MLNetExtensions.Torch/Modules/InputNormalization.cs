using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>How a network normalises raw [0, 255] pixels before its first layer.</summary>
public enum PixelNormalization
{
    /// <summary>(x - mean) / max(stddev, 1/sqrt(N)) over each image, like tf.image.per_image_standardization.</summary>
    PerImageStandardization,
    /// <summary>x / 127.5 - 1, into [-1, 1].</summary>
    MinusOneToOne,
    /// <summary>
    /// x − (123.15, 115.90, 103.06) per RGB channel, no scaling: the input of ML.NET's ImageNet ResNet-18
    /// (<see cref="Weights.PretrainedBackbone.ImageNetResNet18"/>), whose <c>ResNetPreprocess.onnx</c> subtracts a
    /// 224×224 mean image; these are that image's per-channel averages, which apply at any input size.
    /// </summary>
    ImageNetMeanSubtraction,
    /// <summary>(x / 255 − mean) / std with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225): the
    /// input of torchvision's ImageNet weights (a <c>.safetensors</c> file saved from torchvision).</summary>
    ImageNet,
}

/// <summary>
/// The first layer of every network here: normalises raw pixels inside the network, so the exported ONNX graph
/// takes the same raw pixels ML.NET's <c>ExtractPixels</c> gives and no preprocessing is written twice.
/// </summary>
public sealed class InputNormalization : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Per-channel (R, G, B) means of <see cref="PixelNormalization.ImageNetMeanSubtraction"/>, in [0, 255] units.</summary>
    public static readonly float[] ImageNetMeanImageAverage = [123.15163f, 115.902885f, 103.06262f];
    private static readonly float[] TorchvisionMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] TorchvisionStd = [0.229f, 0.224f, 0.225f];

    public InputNormalization(PixelNormalization normalization) : base(nameof(InputNormalization))
    {
        Normalization = normalization;
        RegisterComponents();
    }

    public PixelNormalization Normalization { get; }

    /// <summary>(N, C, H, W) raw pixels → (N, C, H, W) normalised.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (Normalization == PixelNormalization.MinusOneToOne)
        {
            using Scalar half = 127.5f, one = 1f;   // held until the ops return (dotnet/TorchSharp#1434)
            return (x / half - one).MoveToOuterDisposeScope();
        }
        if (ChannelAffine() is var (scale, shift))
        {
            var view = new long[] { 1, x.shape[1], 1, 1 };
            return (x * torch.tensor(scale, view, device: x.device)).Plus(torch.tensor(shift, view, device: x.device)).MoveToOuterDisposeScope();
        }
        long n = x.shape[1] * x.shape[2] * x.shape[3];
        var mean = x.mean(new long[] { 1, 2, 3 }, keepdim: true);                                    // (N, 1, 1, 1)
        var centred = x - mean;
        var std = centred.Squared().mean(new long[] { 1, 2, 3 }, keepdim: true).sqrt();
        using Scalar floor = (float)(1.0 / Math.Sqrt(n));
        return (centred / std.clamp_min(floor)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder g, string input)
    {
        if (Normalization == PixelNormalization.MinusOneToOne)
        {
            var scale = g.AddInitializer("scale", [1f / 127.5f]);
            var shift = g.AddInitializer("shift", [-1f]);
            return OnnxOps.Add(g, OnnxOps.Mul(g, input, scale), shift);
        }
        if (ChannelAffine() is var (channelScale, channelShift))
        {
            var scale = g.AddInitializer("scale", channelScale, [1, channelScale.Length, 1, 1]);
            var shift = g.AddInitializer("shift", channelShift, [1, channelShift.Length, 1, 1]);
            return OnnxOps.Add(g, OnnxOps.Mul(g, input, scale), shift);
        }
        var mean = OnnxOps.ReduceMean(g, input, [1, 2, 3]);
        var centred = OnnxOps.Sub(g, input, mean);
        var variance = OnnxOps.ReduceMean(g, OnnxOps.Mul(g, centred, centred), [1, 2, 3]);
        var std = OnnxOps.Sqrt(g, variance);
        // Floor 1/sqrt(C·H·W), computed from the input's shape so the graph does not depend on the export size.
        var count = OnnxOps.Cast(g, OnnxOps.ReduceProd(g, OnnxOps.Shape(g, input, start: 1), keepDims: false), OnnxElementType.Float);
        var floor = OnnxOps.Div(g, g.AddInitializer("one", [1f]), OnnxOps.Sqrt(g, count));
        return OnnxOps.Div(g, centred, OnnxOps.Max(g, std, floor));
    }

    /// <summary>The ImageNet normalisations as x · scale + shift per channel (RGB); null for the others.</summary>
    private (float[] Scale, float[] Shift)? ChannelAffine() => Normalization switch
    {
        PixelNormalization.ImageNetMeanSubtraction => ([1f, 1f, 1f], [.. ImageNetMeanImageAverage.Select(m => -m)]),
        PixelNormalization.ImageNet => ([.. TorchvisionStd.Select(s => 1f / (255f * s))], [.. TorchvisionMean.Zip(TorchvisionStd, (m, s) => -m / s)]),
        _ => null,
    };
}
