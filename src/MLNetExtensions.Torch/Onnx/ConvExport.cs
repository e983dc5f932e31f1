using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Onnx;

/// <summary>Writes a Conv2d, optionally with the BatchNorm2d after it folded in, as one ONNX Conv.</summary>
internal static class ConvExport
{
    /// <summary>
    /// Emits <c>conv</c> (and <c>bn</c> folded into it) reading <paramref name="x"/>. The initializers are named
    /// <c>{convName}.weight</c> and <c>{convName}.bias</c> inside the graph's open scope.
    /// </summary>
    public static string Emit(OnnxGraphBuilder g, Conv2d conv, string convName, BatchNorm? bn, string? bnName, string x)
    {
        var pads = CheckedPads(g, conv, convName);
        float[] weight;
        float[]? bias;
        if (bn != null)
        {
            var bnPath = OnnxModuleExport.PathOf(g, bnName ?? "bn");
            OnnxModuleExport.RequireEval(bn, bnPath);
            if (bn.running_mean is null || bn.running_var is null)
                throw new OnnxExportException($"BatchNorm2d '{bnPath}' keeps no running statistics (track_running_stats: false), so in eval it normalizes with each batch's statistics; ONNX export needs fixed statistics. Create it with track_running_stats: true and train it.");
            if (bn.num_features != conv.out_channels)
                throw new OnnxExportException($"BatchNorm2d '{bnPath}' has {bn.num_features} features, but Conv2d '{OnnxModuleExport.PathOf(g, convName)}' before it has {conv.out_channels} output channels.");
            (weight, bias) = BatchNormFolding.FoldToArrays(conv, bn);
        }
        else
        {
            weight = TensorExport.Floats(conv.weight);
            bias = conv.bias is null ? null : TensorExport.Floats(conv.bias);
        }
        return Initializers(g, conv, convName, weight, bias, pads)(x);
    }

    /// <summary>
    /// Emits the initializers of <paramref name="conv"/> (no BatchNorm) once, named as <see cref="Emit"/> names them,
    /// and returns what applies the convolution to an input: one set of weights for a head shared by several maps.
    /// </summary>
    public static Func<string, string> Shared(OnnxGraphBuilder g, Conv2d conv, string convName)
    {
        var pads = CheckedPads(g, conv, convName);
        return Initializers(g, conv, convName, TensorExport.Floats(conv.weight), conv.bias is null ? null : TensorExport.Floats(conv.bias), pads);
    }

    private static long[] CheckedPads(OnnxGraphBuilder g, Conv2d conv, string convName)
    {
        OnnxModuleExport.RequireEval(conv, OnnxModuleExport.PathOf(g, convName));
        if (conv.padding_mode != PaddingModes.Zeros)
            throw new OnnxExportException($"Conv2d '{OnnxModuleExport.PathOf(g, convName)}' pads with {conv.padding_mode}; ONNX export supports zero padding only. Pad explicitly (OnnxOps.Pad in an IOnnxExportable block) and use padding 0.");
        return Pads(conv);
    }

    private static Func<string, string> Initializers(OnnxGraphBuilder g, Conv2d conv, string convName, float[] weight, float[]? bias, long[] pads)
    {
        string w;
        string? b;
        using (convName.Length == 0 ? null : g.BeginScope(convName))
        {
            w = g.AddInitializer("weight", weight, conv.weight.shape);
            b = bias is null ? null : g.AddInitializer("bias", bias, conv.out_channels);
        }
        return x =>
        {
            using var convScope = convName.Length == 0 ? null : g.BeginScope(convName);
            return OnnxOps.Conv(g, x, w, b, conv.stride.ToArray(), pads, conv.dilation.ToArray(), conv.groups);
        };
    }

    /// <summary>ONNX pads (begins, then ends) for the convolution's padding setting.</summary>
    public static long[] Pads(Conv2d conv)
    {
        if (conv.padding is { } padding)
            return OnnxOps.SymmetricPads(padding.Length == 1 ? [padding[0], padding[0]] : padding);
        if (conv.padding_type == Padding.Same)
        {
            // Like torch: the total padding dilation · (k - 1) is split with the odd pixel at the end.
            var total = conv.kernel_size.Select((k, i) => conv.dilation[i] * (k - 1)).ToArray();
            return [.. total.Select(t => t / 2), .. total.Select(t => t - t / 2)];
        }
        return new long[2 * conv.kernel_size.Length];
    }
}
