using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// ASPP's image-level branch: global average pooling, 1×1 conv + BatchNorm + ReLU, then bilinear upsampling back to
/// the map's size, so every position sees the whole image's context. Children <c>1</c> (conv) and <c>2</c> (norm) as
/// in torchvision's <c>ASPPPooling</c>. Exported as GlobalAveragePool → Conv (BatchNorm folded) → Relu → Resize to
/// the input's spatial size read at run time, so the graph takes any input size.
/// </summary>
public sealed class ImagePoolingBranch : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    [ComponentName(Name = "1")]
    private readonly Conv2d conv;

    [ComponentName(Name = "2")]
    private readonly BatchNorm bn;

    /// <summary>Creates the branch.</summary>
    public ImagePoolingBranch(long inChannels, long outChannels) : base(nameof(ImagePoolingBranch))
    {
        conv = nn.Conv2d(inChannels, outChannels, 1, bias: false);
        bn = new Training.HeldScalars.BatchNorm2d(outChannels);
        RegisterComponents();
    }

    /// <summary>(N, in, H, W) → (N, out, H, W), constant over each map, in the input's memory layout.</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var pooled = nn.functional.adaptive_avg_pool2d(input, [1, 1]);                             // (N, in, 1, 1)
        var y = nn.functional.relu(bn.call(conv.call(pooled)));                                   // (N, out, 1, 1)
        // Bilinear upsampling of one pixel repeats it (what the export's Resize computes), so the map is the pixel
        // broadcast: no interpolation kernel forward or backward (its backward is a sum over the map).
        var map = y.expand(y.shape[0], y.shape[1], input.shape[2], input.shape[3]);               // (N, out, H, W), a view
        // ASPP's concatenation is channels-last only when every branch is, so the branch follows its input (see
        // ChannelsLastLayout).
        map = ChannelsLastLayout.IsChannelsLast(input) ? ChannelsLastLayout.Apply(map) : map.contiguous();
        return map.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var pooled = OnnxOps.GlobalAveragePool(graph, input);
        var y = OnnxOps.Relu(graph, ConvExport.Emit(graph, conv, "1", bn, "2", pooled));
        return OnnxOps.ResizeLike(graph, y, input, OnnxResizeMode.Bilinear);
    }
}
