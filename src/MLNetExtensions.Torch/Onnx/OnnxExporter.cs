using MLNetExtensions.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Onnx;

/// <summary>
/// Writes an eval-mode TorchSharp network as an ONNX model (IR 8, opset 17) with one float input
/// (N, C, H, W) and one float output, both with a dynamic batch axis <c>N</c>, plus optional
/// <see cref="OnnxModelMetadata"/>. The network must be made of <see cref="Modules.IOnnxExportable"/> blocks and the
/// TorchSharp modules <see cref="OnnxModuleExport"/> writes directly.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Exports <paramref name="module"/> to the file at <paramref name="path"/> (replaced if it exists).</summary>
    /// <param name="module">The network, in eval mode.</param>
    /// <param name="inputShape">Channels, height and width of one input image.</param>
    /// <param name="path">Where to write the .onnx file.</param>
    /// <param name="metadata">Written as metadata_props; its input size must equal <paramref name="inputShape"/>.</param>
    /// <param name="inputName">Name of the graph input.</param>
    /// <param name="outputName">Name of the graph output.</param>
    /// <exception cref="OnnxExportException">A module is in training mode or cannot be exported; the message names it.</exception>
    public static void Export(nn.Module<Tensor, Tensor> module, (long Channels, long Height, long Width) inputShape, string path,
        OnnxModelMetadata? metadata = null, string inputName = "input", string outputName = "output")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var graph = BuildGraph(module, inputShape, metadata, inputName, outputName);
        graph.Save(path);
    }

    /// <summary>Exports <paramref name="module"/> into <paramref name="stream"/>.</summary>
    /// <inheritdoc cref="Export(nn.Module{Tensor, Tensor}, ValueTuple{long, long, long}, string, OnnxModelMetadata?, string, string)"/>
    public static void Export(nn.Module<Tensor, Tensor> module, (long Channels, long Height, long Width) inputShape, Stream stream,
        OnnxModelMetadata? metadata = null, string inputName = "input", string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var graph = BuildGraph(module, inputShape, metadata, inputName, outputName);
        graph.Save(stream);
    }

    /// <summary>
    /// The graph <see cref="Export(nn.Module{Tensor, Tensor}, ValueTuple{long, long, long}, string, OnnxModelMetadata?, string, string)"/>
    /// writes, for callers that add to it before saving. The output shape is found by running the module once on a
    /// zero image of batch size 1.
    /// </summary>
    /// <inheritdoc cref="Export(nn.Module{Tensor, Tensor}, ValueTuple{long, long, long}, string, OnnxModelMetadata?, string, string)"/>
    public static OnnxGraphBuilder BuildGraph(nn.Module<Tensor, Tensor> module, (long Channels, long Height, long Width) inputShape,
        OnnxModelMetadata? metadata = null, string inputName = "input", string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(module);
        var (c, h, w) = inputShape;
        if (c < 1 || h < 1 || w < 1)
            throw new ArgumentOutOfRangeException(nameof(inputShape), inputShape, "Channels, height and width must be positive.");
        if (metadata != null && (metadata.InputChannels != c || metadata.InputHeight != h || metadata.InputWidth != w))
            throw new ArgumentException($"The metadata describes {metadata.InputChannels}×{metadata.InputHeight}×{metadata.InputWidth} inputs, but the export input shape is {c}×{h}×{w}.", nameof(metadata));
        TorchRuntime.EnsureLoaded();
        var training = module.named_modules().Prepend(("", module)).FirstOrDefault(m => m.Item2.training);
        if (training.Item2 != null)
            OnnxModuleExport.RequireEval(training.Item2, training.Item1.Length == 0 ? "(root)" : training.Item1);

        var graph = new OnnxGraphBuilder { Metadata = metadata };
        var input = graph.AddInput(inputName, OnnxGraphBuilder.BatchDimension, c, h, w);
        var output = OnnxModuleExport.Export(graph, module, input);
        var outputShape = ProbeOutputShape(module, c, h, w);
        graph.AddOutput(output, outputName, [OnnxGraphBuilder.BatchDimension, .. outputShape.Skip(1).Select(d => (OnnxDimension)d)]);
        return graph;
    }

    private static long[] ProbeOutputShape(nn.Module<Tensor, Tensor> module, long c, long h, long w)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var parameter = module.parameters().FirstOrDefault();
        var probe = torch.zeros([1, c, h, w], parameter?.dtype ?? ScalarType.Float32, parameter?.device ?? torch.CPU);
        var output = module.call(probe);
        if (output.ndim == 0)
            throw new OnnxExportException("The module returns a scalar; the exported output needs a batch axis.");
        return output.shape;
    }
}
