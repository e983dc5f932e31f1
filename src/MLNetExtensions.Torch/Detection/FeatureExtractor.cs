using MLNetExtensions.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>A backbone that gives several feature maps, largest first, each with its channel count.</summary>
public abstract class FeatureExtractor : nn.Module<Tensor, Tensor[]>
{
    protected FeatureExtractor(string name) : base(name) { }

    /// <summary>Channels of each returned map.</summary>
    public abstract long[] OutChannels { get; }

    /// <summary>Emits the eval-mode forward of <paramref name="input"/> and returns the names of the maps.</summary>
    public abstract string[] Export(OnnxGraphBuilder graph, string input);
}
