using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Merges an eval-mode BatchNorm2d into the convolution before it: in eval, BN is a per-channel affine map
/// y = (x - mean) · γ / √(var + ε) + β, so the convolution's weights and bias can absorb it and the exported graph
/// has one Conv instead of Conv + BatchNormalization.
/// </summary>
public static class BatchNormFolding
{
    /// <summary>
    /// The weight (out, in / groups, kH, kW) and bias (out) of a convolution that computes <c>bn(conv(x))</c> for
    /// <paramref name="bn"/> in eval mode, in float32 on the CPU.
    /// </summary>
    /// <exception cref="ArgumentException">The channel counts differ, or <paramref name="bn"/> keeps no running statistics.</exception>
    public static (Tensor Weight, Tensor Bias) Fold(Conv2d conv, BatchNorm bn)
    {
        var (weight, bias) = FoldToArrays(conv, bn);
        return (torch.tensor(weight, conv.weight.shape), torch.tensor(bias, [conv.out_channels]));
    }

    /// <summary>
    /// <see cref="Fold"/> as flat row-major arrays. Done on the CPU in float64 per element rather than with tensor
    /// ops: a dozen small libtorch calls per layer cost more than the arithmetic.
    /// </summary>
    internal static (float[] Weight, float[] Bias) FoldToArrays(Conv2d conv, BatchNorm bn)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(bn);
        if (bn.num_features != conv.out_channels)
            throw new ArgumentException($"BatchNorm2d has {bn.num_features} features but the Conv2d before it has {conv.out_channels} output channels.", nameof(bn));
        if (bn.running_mean is null || bn.running_var is null)
            throw new ArgumentException("BatchNorm2d keeps no running statistics (track_running_stats is false): in eval it normalizes with each batch's own statistics, which no fixed convolution reproduces.", nameof(bn));

        int outChannels = (int)conv.out_channels;
        var weight = TensorExport.Floats(conv.weight);                        // (out, in / groups, kH, kW)
        var convBias = conv.bias is null ? new float[outChannels] : TensorExport.Floats(conv.bias);
        var mean = TensorExport.Floats(bn.running_mean);
        var variance = TensorExport.Floats(bn.running_var);
        var gamma = bn.affine ? TensorExport.Floats(bn.weight) : null;
        var beta = bn.affine ? TensorExport.Floats(bn.bias!) : null;

        int perChannel = weight.Length / outChannels;
        var bias = new float[outChannels];
        for (int o = 0; o < outChannels; o++)
        {
            double scale = (gamma?[o] ?? 1.0) / Math.Sqrt(variance[o] + bn.eps);
            for (int i = o * perChannel; i < (o + 1) * perChannel; i++)
                weight[i] = (float)(weight[i] * scale);
            bias[o] = (float)((convBias[o] - mean[o]) * scale + (beta?[o] ?? 0.0));
        }
        return (weight, bias);
    }
}
