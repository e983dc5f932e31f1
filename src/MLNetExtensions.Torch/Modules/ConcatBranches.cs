using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Runs several branches on the same input and concatenates their outputs along channels (like DeepLab's ASPP
/// branches or an Inception block). Children: <c>branches.0</c>, <c>branches.1</c>... All branches must keep the
/// spatial size.
/// </summary>
public sealed class ConcatBranches : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> branches;

    /// <summary>Creates the block.</summary>
    /// <param name="branches">The branches, at least one; each maps (N, C, H, W) to (N, Cᵢ, H, W).</param>
    public ConcatBranches(params nn.Module<Tensor, Tensor>[] branches) : base(nameof(ConcatBranches))
    {
        ArgumentNullException.ThrowIfNull(branches);
        if (branches.Length == 0) throw new ArgumentException("At least one branch is needed.", nameof(branches));
        if (branches.Any(b => b is null)) throw new ArgumentException("A branch is null.", nameof(branches));
        this.branches = nn.ModuleList(branches);
        RegisterComponents();
    }

    /// <summary>Number of branches.</summary>
    public int Count => branches.Count;

    /// <summary>(N, C, H, W) → (N, ΣCᵢ, H, W).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var outputs = branches.Select(b => b.call(input)).ToArray();
        return torch.cat(outputs, 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        using (graph.BeginScope("branches"))
            return OnnxModuleExport.ExportConcat(graph, branches.Select((b, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (nn.Module)b)).ToList(), input);
    }
}
