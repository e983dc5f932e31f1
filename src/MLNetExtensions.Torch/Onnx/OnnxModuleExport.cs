using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Onnx;

/// <summary>
/// Writes any supported module as ONNX: an <see cref="IOnnxExportable"/> block writes itself; TorchSharp's own
/// Sequential, Conv2d, BatchNorm2d, ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Softmax, MaxPool2d, AvgPool2d,
/// AdaptiveAvgPool2d(1), Flatten, Linear, Upsample, Dropout, Dropout2d and Identity are written here, so a
/// torchvision-style <c>features</c> Sequential exports as it is. In a Sequential, a Conv2d directly followed by a
/// BatchNorm2d is written as one Conv with the BatchNorm folded in.
/// </summary>
public static class OnnxModuleExport
{
    /// <summary>Adds the nodes computing <paramref name="module"/>'s eval forward of <paramref name="input"/>; returns the result's name.</summary>
    /// <exception cref="OnnxExportException">The module (or one inside it) is in training mode or cannot be exported; the message names it by path.</exception>
    public static string Export(OnnxGraphBuilder g, nn.Module module, string input)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        var path = g.CurrentScope.Length == 0 ? "(root)" : g.CurrentScope;
        RequireEval(module, path);
        switch (module)
        {
            case IOnnxExportable exportable:
                return exportable.Export(g, input);
            case Sequential sequential:
                return ExportSequential(g, sequential.named_children().ToList(), input);
            case Conv2d conv:
                return ConvExport.Emit(g, conv, "", null, null, input);
            case BatchNorm bn when IsBatchNorm2d(bn):
                return ExportBatchNorm(g, bn, path, input);
            case ReLU:
                return OnnxOps.Relu(g, input);
            case ReLU6:
                return OnnxOps.Relu6(g, input);
            case LeakyReLU leaky:
                return OnnxOps.LeakyRelu(g, input, (float)leaky.negative_slope);
            case Sigmoid:
                return OnnxOps.Sigmoid(g, input);
            case Tanh:
                return OnnxOps.Tanh(g, input);
            case Softmax softmax:
                return OnnxOps.Softmax(g, input, softmax.dim);
            case MaxPool2d pool:
                return ExportMaxPool(g, pool, input);
            case AvgPool2d pool:
                return ExportAvgPool(g, pool, path, input);
            case AdaptiveAvgPool2d pool:
                if (pool.output_size.Any(s => s != 1))
                    throw new OnnxExportException($"AdaptiveAvgPool2d '{path}' has output size ({string.Join(", ", pool.output_size)}); ONNX export supports output size 1 (global average pooling) only.");
                return OnnxOps.GlobalAveragePool(g, input);
            case Flatten flatten:
                return ExportFlatten(g, flatten, path, input);
            case Linear linear:
                return ExportLinear(g, linear, input);
            case TorchSharp.Modules.Upsample upsample:
                return ExportUpsample(g, upsample, path, input);
            case Dropout or Dropout2d or Identity:
                return input; // eval-mode dropout is the identity
            default:
                throw new OnnxExportException($"'{path}' is a {module.GetType().FullName}, which cannot be exported to ONNX: it is neither an IOnnxExportable block nor one of the TorchSharp modules written directly (Sequential, Conv2d, BatchNorm2d, ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, Softmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten, Linear, Upsample, Dropout, Dropout2d, Identity). Implement IOnnxExportable on it, or build it from the blocks in MLNetExtensions.Torch.Modules.");
        }
    }

    /// <summary>Exports <paramref name="child"/> inside a scope named <paramref name="name"/> (its state_dict prefix).</summary>
    public static string ExportChild(OnnxGraphBuilder g, string name, nn.Module child, string input)
    {
        ArgumentNullException.ThrowIfNull(g);
        using (g.BeginScope(name))
            return Export(g, child, input);
    }

    /// <summary>
    /// Exports named modules one after the other, each in its own scope, folding each Conv2d that is directly
    /// followed by a BatchNorm2d into one Conv.
    /// </summary>
    public static string ExportSequential(OnnxGraphBuilder g, IReadOnlyList<(string name, nn.Module module)> children, string input)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(children);
        var x = input;
        for (int i = 0; i < children.Count; i++)
        {
            var (name, module) = children[i];
            if (module is Conv2d conv && i + 1 < children.Count && children[i + 1].module is BatchNorm bn && IsBatchNorm2d(bn))
            {
                x = ConvExport.Emit(g, conv, name, bn, children[i + 1].name, x);
                i++;
            }
            else
            {
                x = ExportChild(g, name, module, x);
            }
        }
        return x;
    }

    /// <summary>
    /// Runs each branch on <paramref name="input"/> (each in its own scope) and concatenates the results along
    /// channels, like <c>torch.cat([b(x) for b in branches], dim=1)</c>.
    /// </summary>
    public static string ExportConcat(OnnxGraphBuilder g, IReadOnlyList<(string name, nn.Module module)> branches, string input)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(branches);
        if (branches.Count == 0) throw new ArgumentException("At least one branch is needed.", nameof(branches));
        var outputs = branches.Select(b => ExportChild(g, b.name, b.module, input)).ToList();
        return outputs.Count == 1 ? outputs[0] : OnnxOps.Concat(g, outputs, 1);
    }

    /// <summary>Throws when <paramref name="module"/> is in training mode; <paramref name="path"/> names it in the message.</summary>
    /// <exception cref="OnnxExportException">The module is in training mode.</exception>
    public static void RequireEval(nn.Module module, string path)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (module.training)
            throw new OnnxExportException($"'{path}' ({module.GetType().Name}) is in training mode. Call eval() on the model before exporting: BatchNorm and Dropout compute differently in training, and the exported graph is the eval-mode one.");
    }

    /// <summary>The dotted path of a child of the graph's open scope, for messages.</summary>
    internal static string PathOf(OnnxGraphBuilder g, string child) =>
        g.CurrentScope.Length == 0 ? (child.Length == 0 ? "(root)" : child) : child.Length == 0 ? g.CurrentScope : $"{g.CurrentScope}.{child}";

    /// <summary>TorchSharp's BatchNorm2d or the library's (<see cref="Training.HeldScalars.BatchNorm2d"/>, which holds its Scalars); not 1d or 3d.</summary>
    private static bool IsBatchNorm2d(BatchNorm bn) => bn is BatchNorm2d or Training.HeldScalars.BatchNorm2d;

    private static string ExportBatchNorm(OnnxGraphBuilder g, BatchNorm bn, string path, string x)
    {
        if (bn.running_mean is null || bn.running_var is null)
            throw new OnnxExportException($"BatchNorm2d '{path}' keeps no running statistics (track_running_stats: false), so in eval it normalizes with each batch's statistics; ONNX export needs fixed statistics. Create it with track_running_stats: true and train it.");
        using var scope = torch.NewDisposeScope();
        long n = bn.num_features;
        var gamma = bn.affine ? TensorExport.Floats(bn.weight) : Enumerable.Repeat(1f, (int)n).ToArray();
        var beta = bn.affine ? TensorExport.Floats(bn.bias!) : new float[n];
        var scale = g.AddInitializer("weight", gamma, n);
        var bias = g.AddInitializer("bias", beta, n);
        var mean = g.AddInitializer("running_mean", TensorExport.Floats(bn.running_mean), n);
        var variance = g.AddInitializer("running_var", TensorExport.Floats(bn.running_var), n);
        return OnnxOps.BatchNormalization(g, x, scale, bias, mean, variance, (float)bn.eps);
    }

    private static string ExportMaxPool(OnnxGraphBuilder g, MaxPool2d pool, string x)
    {
        var kernel = Pair(pool.kernel_size);
        var stride = pool.stride is null ? kernel : Pair(pool.stride);
        var padding = pool.padding is null ? [0, 0] : Pair(pool.padding);
        var dilation = pool.dilation is null ? [1, 1] : Pair(pool.dilation);
        return OnnxOps.MaxPool(g, x, kernel, stride, OnnxOps.SymmetricPads(padding), dilation, pool.ceil_mode);
    }

    private static string ExportAvgPool(OnnxGraphBuilder g, AvgPool2d pool, string path, string x)
    {
        if (pool.divisor_override is not null)
            throw new OnnxExportException($"AvgPool2d '{path}' sets divisor_override; ONNX AveragePool has no such setting. Leave it null.");
        var kernel = Pair(pool.kernel_size);
        var stride = pool.stride is null ? kernel : Pair(pool.stride);
        var padding = pool.padding is null ? [0, 0] : Pair(pool.padding);
        return OnnxOps.AveragePool(g, x, kernel, stride, OnnxOps.SymmetricPads(padding), pool.count_include_pad, pool.ceil_mode);
    }

    private static string ExportFlatten(OnnxGraphBuilder g, Flatten flatten, string path, string x)
    {
        // ONNX Flatten(axis) always makes 2-D, which is torch's flatten(start_dim: 1) to the last axis.
        bool toLast = flatten.end_dim == -1 || (g.RankOf(x) is { } rank && flatten.end_dim == rank - 1);
        if (flatten.start_dim != 1 || !toLast)
            throw new OnnxExportException($"Flatten '{path}' flattens axes {flatten.start_dim}..{flatten.end_dim}; ONNX export supports start_dim 1 to the last axis only (the usual classifier flatten).");
        return OnnxOps.Flatten(g, x, 1);
    }

    private static string ExportLinear(OnnxGraphBuilder g, Linear linear, string x)
    {
        using var scope = torch.NewDisposeScope();
        var weight = TensorExport.Floats(linear.weight);                       // (out, in)
        long outFeatures = linear.out_features, inFeatures = linear.in_features;
        var bias = linear.bias is null ? null : g.AddInitializer("bias", TensorExport.Floats(linear.bias), outFeatures);
        if (g.RankOf(x) == 2)
        {
            var w = g.AddInitializer("weight", weight, outFeatures, inFeatures);
            return OnnxOps.Gemm(g, x, w, bias, transB: true);
        }
        // Any other rank: x · Wᵀ (+ b) over the last axis, like torch's linear.
        var transposed = new float[weight.Length];
        for (long o = 0; o < outFeatures; o++)
            for (long i = 0; i < inFeatures; i++)
                transposed[i * outFeatures + o] = weight[o * inFeatures + i];
        var wt = g.AddInitializer("weight", transposed, inFeatures, outFeatures);
        var y = OnnxOps.MatMul(g, x, wt);
        return bias is null ? y : OnnxOps.Add(g, y, bias);
    }

    private static string ExportUpsample(OnnxGraphBuilder g, TorchSharp.Modules.Upsample upsample, string path, string x)
    {
        var mode = upsample.mode switch
        {
            UpsampleMode.Nearest => OnnxResizeMode.Nearest,
            UpsampleMode.Bilinear => OnnxResizeMode.Bilinear,
            _ => throw new OnnxExportException($"Upsample '{path}' uses mode {upsample.mode}; ONNX export supports Nearest and Bilinear."),
        };
        if (upsample.align_corners == true)
            throw new OnnxExportException($"Upsample '{path}' sets align_corners: true; ONNX export supports align_corners false (half-pixel coordinates), the torchvision default.");
        if (upsample.recompute_scale_factor == true)
            throw new OnnxExportException($"Upsample '{path}' sets recompute_scale_factor: true; give the output size instead.");
        if (upsample.size.Length > 0)
        {
            var size = Pair(upsample.size.ToArray());
            return OnnxOps.ResizeToSpatialSize(g, x, size[0], size[1], mode);
        }
        var factors = upsample.scale_factor.ToArray();
        if (factors.Length is not (1 or 2))
            throw new OnnxExportException($"Upsample '{path}' has neither an output size nor one or two scale factors.");
        var scale = factors.Length == 1 ? [factors[0], factors[0]] : factors;
        return OnnxOps.Resize(g, x, [1f, 1f, (float)scale[0], (float)scale[1]], mode);
    }

    private static long[] Pair(long[] values) => values.Length == 1 ? [values[0], values[0]] : values;
}
