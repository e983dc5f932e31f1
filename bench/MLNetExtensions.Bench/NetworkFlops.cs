using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// The arithmetic of a network, counted from its layers' shapes: 2 × the multiply-accumulates of every
/// <see cref="Conv2d"/> (output elements × kernel area × input channels per group) and <see cref="Linear"/> (output
/// elements × input features) in one forward pass; BatchNorm, activations and the loss are left out (a few percent).
/// A training step costs about 3× the forward: the forward, the gradient of the inputs and that of the weights.
/// </summary>
internal static class NetworkFlops
{
    /// <summary>Forward FLOPs per image of <paramref name="forward"/> on <paramref name="images"/> (N, C, H, W), run once
    /// in eval mode without autograd (so every convolution is called as it is, see
    /// <see cref="MLNetExtensions.Torch.Modules.PaddedConvolution"/>); the module's mode is restored.</summary>
    public static double ForwardPerImage(nn.Module network, Func<Tensor, object> forward, Tensor images)
    {
        double total = 0;
        var removers = new List<Action>();
        // A module reachable under two names (a field kept for a typed view of a child) is counted once.
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        foreach (var module in network.named_modules().Select(m => m.module).Prepend(network))
        {
            if (!seen.Add(module)) continue;
            if (module is Conv2d conv)
            {
                var convHook = conv.register_forward_hook((m, input, output) =>
                {
                    total += 2.0 * output.numel() * conv.kernel_size.Aggregate(1L, (a, k) => a * k) * (conv.in_channels / conv.groups);
                    return output;
                });
                removers.Add(() => convHook.remove());
            }
            else if (module is Linear linear)
            {
                var linearHook = linear.register_forward_hook((m, input, output) =>
                {
                    total += 2.0 * output.numel() * linear.in_features;
                    return output;
                });
                removers.Add(() => linearHook.remove());
            }
        }
        bool training = network.training;
        network.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            forward(images);
        }
        finally
        {
            foreach (var remove in removers) remove();
            if (training) network.train();
        }
        return total / images.shape[0];
    }
}
