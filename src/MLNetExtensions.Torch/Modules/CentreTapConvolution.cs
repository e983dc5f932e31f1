using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// A "same"-padded atrous convolution whose dilation is at least the map's height and width, computed as the 1×1
/// convolution of its centre tap: every other tap lies a dilation away from every pixel, so it reads only the zero
/// padding, and the full convolution adds nothing but zeros for it (its weights' gradients are zero either way). DeepLab's
/// ASPP branches meet this whenever the high-level map is no larger than the rate (at output stride 16: inputs up to
/// 96 px for rate 6, 192 and 288 px for 12 and 18; all three at the segmentation quickstart's 64 px, a 4×4 map). Same values within float32 rounding (the
/// full convolution sums the same products in another order), same weights, checkpoints and ONNX export (the graph keeps
/// the 3×3 convolution). Only with autograd on the CPU, like <see cref="PaddedConvolution"/>; the forward in inference
/// and FLOP counts by hooks see the convolution as it is.
/// </summary>
public static class CentreTapConvolution
{
    /// <summary>Whether <paramref name="conv"/> on <paramref name="input"/> (N, C, H, W) reads nothing but padding off
    /// its centre tap: an odd kernel larger than 1, stride 1, zero padding of dilation · (k − 1) / 2 on both axes, and an
    /// atrous dilation (2 or more) ≥ H and ≥ W. Undilated kernels are left as they are even on a 1×1 map (an SSD head's
    /// last one), where the same holds, so the detection networks compute as before.</summary>
    public static bool Applies(Conv2d conv, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(input);
        if (input.ndim != 4 || input.device_type != DeviceType.CPU || !is_grad_enabled() || conv.padding_mode != PaddingModes.Zeros
            || conv.padding is not { } padding || conv.kernel_size.Length != 2)
            return false;
        long h = input.shape[2], w = input.shape[3];
        for (int axis = 0; axis < 2; axis++)
        {
            long k = conv.kernel_size[axis], d = conv.dilation[axis];
            if (k < 3 || k % 2 == 0 || d < 2 || conv.stride[axis] != 1 || padding[axis] != d * (k - 1) / 2 || d < (axis == 0 ? h : w))
                return false;
        }
        return true;
    }

    /// <summary>conv(input) where <see cref="Applies"/>: (N, C, H, W) → (N, O, H, W); otherwise the convolution's call.</summary>
    public static Tensor Apply(Conv2d conv, Tensor input)
    {
        if (!Applies(conv, input)) return conv.call(input);
        using var scope = NewDisposeScope();
        long kh = conv.kernel_size[0], kw = conv.kernel_size[1];
        var centre = conv.weight![TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(kh / 2, kh / 2 + 1), TensorIndex.Slice(kw / 2, kw / 2 + 1)];   // (O, C/g, 1, 1)
        return nn.functional.conv2d(input, centre, conv.bias, groups: conv.groups).MoveToOuterDisposeScope();
    }
}
