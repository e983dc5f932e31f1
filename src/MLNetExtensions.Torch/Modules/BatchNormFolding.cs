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
    /// <paramref name="bn"/> in eval mode. Computed in float64 and returned in the convolution's dtype, on its device.
    /// </summary>
    /// <exception cref="ArgumentException">The channel counts differ, or <paramref name="bn"/> keeps no running statistics.</exception>
    public static (Tensor Weight, Tensor Bias) Fold(Conv2d conv, BatchNorm2d bn)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(bn);
        if (bn.num_features != conv.out_channels)
            throw new ArgumentException($"BatchNorm2d has {bn.num_features} features but the Conv2d before it has {conv.out_channels} output channels.", nameof(bn));
        if (bn.running_mean is null || bn.running_var is null)
            throw new ArgumentException("BatchNorm2d keeps no running statistics (track_running_stats is false): in eval it normalizes with each batch's own statistics, which no fixed convolution reproduces.", nameof(bn));

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var dtype = conv.weight.dtype;
        var device = conv.weight.device;
        var weight = conv.weight.detach().to(ScalarType.Float64, device);
        var std = (bn.running_var.detach().to(ScalarType.Float64, device) + bn.eps).sqrt();
        var gamma = bn.affine ? bn.weight.detach().to(ScalarType.Float64, device) : torch.ones(bn.num_features, ScalarType.Float64, device);
        var beta = bn.affine ? bn.bias!.detach().to(ScalarType.Float64, device) : torch.zeros(bn.num_features, ScalarType.Float64, device);
        var scale = gamma / std;                                              // (out)
        var foldedWeight = weight * scale.reshape(-1, 1, 1, 1);               // (out, in / groups, kH, kW)
        var convBias = conv.bias is null ? torch.zeros(conv.out_channels, ScalarType.Float64, device) : conv.bias.detach().to(ScalarType.Float64, device);
        var foldedBias = (convBias - bn.running_mean.detach().to(ScalarType.Float64, device)) * scale + beta; // (out)
        return (foldedWeight.to_type(dtype).MoveToOuterDisposeScope(), foldedBias.to_type(dtype).MoveToOuterDisposeScope());
    }
}
