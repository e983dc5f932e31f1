using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Applies a <see cref="Conv2d"/> with its channel counts padded to multiples of <see cref="ChannelMultiple"/> where
/// libtorch 2.10's oneDNN would otherwise compute wrong gradients on the CPU, so the library's networks can train at
/// oneDNN's AVX-512 kernels (see <see cref="OneDnnIsa"/>). What the convolution computes, its weights and its ONNX
/// export stay as they are: the padding is zero weights added for the call and the extra outputs are sliced away.
/// </summary>
/// <remarks>
/// Measured on AMD EPYC (AVX-512) with a float64 reference: the backward-data kernels of 3×3 and 5×5 convolutions
/// (dilated too) are wrong when the output channel count is not a multiple of 16 (AVX2 kernels: 8), and those of
/// stride-2 ones also when the input count is not; 1×1 convolutions are right. The rule applied here: a spatial kernel
/// (larger than 1×1) of an ungrouped convolution gets its outputs padded to a multiple of 16, and, when it has a stride
/// and its input needs a gradient, its inputs too. Nothing is padded without autograd, for a tensor on another device
/// than the CPU, or for padding given as a mode. <c>NetworkConvolutionGradientTests</c> checks every network's
/// gradients against float64 at the ISA in use.
/// </remarks>
public static class PaddedConvolution
{
    /// <summary>The channel multiple the AVX-512 kernels need.</summary>
    public const long ChannelMultiple = 16;

    /// <summary><c>conv(input)</c>, padded where oneDNN needs it. (N, in, H, W) → (N, out, H', W').</summary>
    public static Tensor Apply(Conv2d conv, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(input);
        // Off-centre taps that read only padding: a 1×1 convolution, which needs no padded channels.
        if (CentreTapConvolution.Applies(conv, input)) return CentreTapConvolution.Apply(conv, input);
        var (outPad, inPad) = Padding(conv, input);
        if (outPad == 0 && inPad == 0) return conv.call(input);

        using var scope = NewDisposeScope();
        Tensor weight = conv.weight!;                                          // (out, in, kh, kw)
        Tensor? bias = conv.bias;
        var x = input;
        if (outPad > 0)
        {
            weight = nn.functional.pad(weight, [0, 0, 0, 0, 0, 0, 0, outPad]); // (out + outPad, in, kh, kw)
            bias = bias is null ? null : nn.functional.pad(bias, [0, outPad]);
        }
        if (inPad > 0)
        {
            weight = nn.functional.pad(weight, [0, 0, 0, 0, 0, inPad]);         // (…, in + inPad, kh, kw)
            x = nn.functional.pad(input, [0, 0, 0, 0, 0, inPad]);               // (N, in + inPad, H, W)
        }
        var y = nn.functional.conv2d(x, weight, bias, strides: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups);
        if (outPad > 0) y = y.narrow(1, 0, conv.out_channels);                  // (N, out, H', W')
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The zero channels <see cref="Apply"/> adds to the outputs and to the inputs of <paramref name="conv"/>
    /// for <paramref name="input"/>; (0, 0) where it calls the convolution as it is.</summary>
    public static (long Outputs, long Inputs) Padding(Conv2d conv, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(input);
        if (conv.groups != 1 || conv.padding is null || conv.padding_mode != PaddingModes.Zeros
            || input.device_type != DeviceType.CPU || input.dtype != ScalarType.Float32 || !is_grad_enabled()
            || conv.kernel_size.All(k => k == 1))
            return (0, 0);
        bool inputGrad = input.requires_grad;
        if (!inputGrad) return (0, 0);   // only the backward-data kernels were seen wrong
        long outPad = PadTo(conv.out_channels);
        long inPad = inputGrad && conv.stride.Any(s => s > 1) ? PadTo(conv.in_channels) : 0;
        return (outPad, inPad);
    }

    private static long PadTo(long channels) => (ChannelMultiple - channels % ChannelMultiple) % ChannelMultiple;
}
