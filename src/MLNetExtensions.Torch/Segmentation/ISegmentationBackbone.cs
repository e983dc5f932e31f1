using MLNetExtensions.Onnx;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// What DeepLab v3+ needs from a backbone: low-level features at stride 4 (for the decoder's sharp edges) and
/// high-level features at the output stride (16, or 8), atrous convolutions keeping the later stages from shrinking
/// further. An implementation is a <c>nn.Module&lt;Tensor, (Tensor LowLevel, Tensor HighLevel)&gt;</c> whose stages,
/// in input order, have names (so <see cref="DeepLabSegmenterOptions.FreezeBackboneUpTo"/> can name them) and modules
/// (so <see cref="DeepLabNetwork.Freeze"/> can freeze them).
/// </summary>
public interface ISegmentationBackbone
{
    /// <summary>Channels of the stride-4 low-level map.</summary>
    long LowLevelChannels { get; }

    /// <summary>Channels of the high-level map.</summary>
    long HighLevelChannels { get; }

    /// <summary>Input size over high-level map size: 16 or 8.</summary>
    int OutputStride { get; }

    /// <summary>The stages in input order.</summary>
    IReadOnlyList<string> StageNames { get; }

    /// <summary>The modules that make up stage <paramref name="stage"/> (one of <see cref="StageNames"/>).</summary>
    /// <exception cref="ArgumentException">The backbone has no stage of that name.</exception>
    IReadOnlyList<nn.Module> StageModules(string stage);

    /// <summary>Emits the eval-mode forward of <paramref name="input"/>; returns the names of the low- and high-level maps.</summary>
    (string LowLevel, string HighLevel) Export(OnnxGraphBuilder graph, string input);
}
