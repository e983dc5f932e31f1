using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Activations in channels-last (NHWC) memory, the layout oneDNN's CPU convolutions compute in: an (N, C, H, W) tensor
/// keeps its shape and its values, only its strides become (H·W·C, 1, W·C, C). Everything downstream of one such
/// tensor follows it (libtorch's convolutions, BatchNorm, element-wise kernels and upsampling keep the input's
/// layout), so a network converts its input once. Two exceptions a network has to mind: a map of one pixel reads as
/// NCHW whatever its strides, and so does what is upsampled from it; and a concatenation is NCHW as soon as one of its
/// inputs is (DeepLab's image-pooling branch lays its output out like its input for that). In the default NCHW layout
/// libtorch reorders every convolution's input, output and gradients between NCHW and oneDNN's blocked layout
/// (<c>mkldnn_to_dense</c>, <c>reorder_to</c>: a fifth of the quickstart SSD's convolution backward in a <c>perf</c>
/// profile of 2026-12-07); in NHWC it passes the tensors as they are, and a head's <c>permute(0, 2, 3, 1)</c> is free.
/// PyTorch's <c>x.to(memory_format=torch.channels_last)</c>; TorchSharp 0.107 has no memory-format argument, so this
/// permutes, copies and permutes back (one copy of the input).
/// </summary>
public static class ChannelsLastLayout
{
    /// <summary><paramref name="x"/> (N, C, H, W) as a channels-last tensor with the same values; on the CPU only (on a GPU
    /// float32 convolutions gain nothing from it), and as it is when it is not 4-D or already channels-last.</summary>
    public static Tensor Apply(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.ndim != 4 || x.device_type != DeviceType.CPU || IsChannelsLast(x)) return x;
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);    // (N, C, H, W), strides (HWC, 1, WC, C)
    }

    /// <summary>Whether <paramref name="x"/> (N, C, H, W) is laid out channels-last: C innermost (stride 1), then W, H,
    /// N, as libtorch's <c>suggest_memory_format</c> reads strides (a slice of the channels, as a padded convolution
    /// returns, still is).</summary>
    public static bool IsChannelsLast(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.ndim != 4) return false;
        var s = x.stride();
        return s[1] == 1 && s[1] <= s[3] && s[3] <= s[2] && s[2] <= s[0] && x.shape[1] > 1;
    }
}
