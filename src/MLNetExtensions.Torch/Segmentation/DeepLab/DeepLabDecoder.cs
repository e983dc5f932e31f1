using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// DeepLab v3+'s decoder: the stride-4 low-level features projected to few channels (48) by a 1×1 conv so they do
/// not outweigh the ASPP output, concatenated with the ASPP output upsampled bilinearly to their size, refined by
/// two 3×3 convs, then a 1×1 classifier giving per-class logits at stride 4.
/// </summary>
public sealed class DeepLabDecoder : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly ConvBnAct project;
    private readonly Sequential fuse;
    private readonly Conv2d classifier;

    /// <summary>Creates the decoder.</summary>
    /// <param name="lowLevelChannels">Channels of the backbone's stride-4 map.</param>
    /// <param name="asppChannels">Channels of the ASPP output, and of the two 3×3 convs.</param>
    /// <param name="projectedChannels">Channels the low-level map is projected to (48 in the paper).</param>
    /// <param name="classCount">Classes, background included.</param>
    public DeepLabDecoder(long lowLevelChannels, long asppChannels, long projectedChannels, int classCount) : base(nameof(DeepLabDecoder))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        project = new ConvBnAct(lowLevelChannels, projectedChannels, kernelSize: 1);
        fuse = nn.Sequential(new ConvBnAct(projectedChannels + asppChannels, asppChannels), new ConvBnAct(asppChannels, asppChannels));
        classifier = nn.Conv2d(asppChannels, classCount, 1);
        RegisterComponents();
    }

    /// <summary>Low-level (N, L, H/4, W/4) and ASPP output (N, A, H/OS, W/OS) → logits (N, K, H/4, W/4).</summary>
    public override Tensor forward(Tensor lowLevel, Tensor aspp)
    {
        using var scope = NewDisposeScope();
        var low = project.call(lowLevel);
        var up = BilinearResize.Apply(aspp, low.shape[2], low.shape[3]);
        return classifier.call(fuse.call(cat([low, up], 1))).MoveToOuterDisposeScope();
    }

    /// <summary>Emits the eval-mode forward; returns the logits' name.</summary>
    public string Export(OnnxGraphBuilder graph, string lowLevel, string aspp)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var low = OnnxModuleExport.ExportChild(graph, "project", project, lowLevel);
        var up = OnnxOps.ResizeLike(graph, aspp, low, OnnxResizeMode.Bilinear);
        var fused = OnnxModuleExport.ExportChild(graph, "fuse", fuse, OnnxOps.Concat(graph, [low, up], 1));
        return OnnxModuleExport.ExportChild(graph, "classifier", classifier, fused);
    }
}
