using System.Globalization;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Atrous Spatial Pyramid Pooling (DeepLab v3): on the high-level map, in parallel, a 1×1 conv, one 3×3 atrous conv
/// per rate (6, 12, 18 at output stride 16; doubled at 8) and the image-level pooling branch, each with BatchNorm and
/// ReLU; their outputs concatenated and projected by a 1×1 conv + BatchNorm + ReLU + dropout. Children named as in
/// torchvision's <c>ASPP</c> (<c>convs.0</c> ... <c>convs.{rates+1}</c>, <c>project.0</c>, <c>project.1</c>).
/// </summary>
public sealed class AtrousSpatialPyramidPooling : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> convs;
    private readonly Sequential project;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Channels of the high-level map.</param>
    /// <param name="outChannels">Channels of every branch and of the output (256 in the paper).</param>
    /// <param name="rates">Atrous rates of the 3×3 branches.</param>
    /// <param name="dropout">Dropout after the projection, in training only.</param>
    public AtrousSpatialPyramidPooling(long inChannels, long outChannels, IReadOnlyList<int> rates, double dropout = 0.1)
        : base(nameof(AtrousSpatialPyramidPooling))
    {
        ArgumentNullException.ThrowIfNull(rates);
        if (rates.Count == 0 || rates.Any(r => r < 1))
            throw new ArgumentException($"ASPP needs at least one atrous rate, each at least 1; got [{string.Join(", ", rates)}].", nameof(rates));
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout must be within [0, 1).");
        var branches = new List<nn.Module<Tensor, Tensor>> { new ConvBnAct(inChannels, outChannels, kernelSize: 1) };
        branches.AddRange(rates.Select(r => (nn.Module<Tensor, Tensor>)new ConvBnAct(inChannels, outChannels, kernelSize: 3, dilation: r)));
        branches.Add(new ImagePoolingBranch(inChannels, outChannels));
        convs = nn.ModuleList(branches.ToArray());
        project = nn.Sequential(
            ("0", nn.Conv2d(outChannels * branches.Count, outChannels, 1, bias: false)),
            ("1", new Training.HeldScalars.BatchNorm2d(outChannels)),
            ("2", nn.ReLU()),
            ("3", nn.Dropout(dropout)));
        Rates = rates.ToArray();
        RegisterComponents();
    }

    /// <summary>The atrous rates of the 3×3 branches.</summary>
    public IReadOnlyList<int> Rates { get; }

    /// <summary>(N, in, H, W) → (N, out, H, W).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var outputs = convs.Select(b => b.call(input)).ToArray();
        return project.call(cat(outputs, 1)).MoveToOuterDisposeScope();                          // (N, out, H, W)
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        string concatenated;
        using (graph.BeginScope("convs"))
            concatenated = OnnxModuleExport.ExportConcat(graph, convs.Select((b, i) => (i.ToString(CultureInfo.InvariantCulture), (nn.Module)b)).ToList(), input);
        return OnnxModuleExport.ExportChild(graph, "project", project, concatenated);
    }
}
