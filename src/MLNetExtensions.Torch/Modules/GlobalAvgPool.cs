using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Mean over the spatial axes, (N, C, H, W) → (N, C, 1, 1), or (N, C) when <see cref="Flatten"/> is set, which is
/// what a classifier's Linear head takes (torchvision's <c>avgpool</c> followed by <c>torch.flatten(x, 1)</c>).
/// </summary>
public sealed class GlobalAvgPool : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Creates the pool.</summary>
    /// <param name="flatten">Whether to drop the two size-1 spatial axes.</param>
    public GlobalAvgPool(bool flatten = false) : base(nameof(GlobalAvgPool)) => Flatten = flatten;

    /// <summary>Whether the output is (N, C) rather than (N, C, 1, 1).</summary>
    public bool Flatten { get; }

    /// <summary>(N, C, H, W) → (N, C, 1, 1), or (N, C) when flattening.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var y = torch.nn.functional.adaptive_avg_pool2d(input, [1, 1]);
        return (Flatten ? y.flatten(1) : y).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var y = OnnxOps.GlobalAveragePool(graph, input);
        return Flatten ? OnnxOps.Flatten(graph, y, 1) : y;
    }
}
