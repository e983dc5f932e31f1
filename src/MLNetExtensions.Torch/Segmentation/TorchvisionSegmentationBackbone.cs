using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// What the torchvision backbones (<see cref="ResNetSegmentationBackbone"/>, <see cref="MobileNetV2SegmentationBackbone"/>)
/// share as DeepLab v3+ backbones: a <see cref="FeatureExtractor"/> child named <c>body</c> (so its state_dict keys are
/// torchvision's) whose first map is the stride-4 low-level one and whose last map is the high-level one, and
/// torchvision weights loaded into it with the classifier's keys skipped. A subclass declares the <c>body</c> field
/// (TorchSharp registers the fields of the class that calls <c>RegisterComponents</c>) and names its stages.
/// </summary>
public abstract class TorchvisionSegmentationBackbone : nn.Module<Tensor, (Tensor LowLevel, Tensor HighLevel)>, ISegmentationBackbone
{
    private readonly string _classifierPrefix;

    /// <param name="name">The module's name.</param>
    /// <param name="outputStride">16 or 8.</param>
    /// <param name="classifierPrefix">The key prefix of torchvision's classifier, which a backbone has no use for.</param>
    protected TorchvisionSegmentationBackbone(string name, int outputStride, string classifierPrefix) : base(name)
    {
        if (outputStride is not (8 or 16))
            throw new ArgumentOutOfRangeException(nameof(outputStride), outputStride, "The output stride must be 8 or 16.");
        OutputStride = outputStride;
        _classifierPrefix = classifierPrefix;
    }

    /// <summary>The torchvision network, registered by the subclass as the child <c>body</c>.</summary>
    protected abstract FeatureExtractor Body { get; }

    public long LowLevelChannels => Body.OutChannels[0];
    public long HighLevelChannels => Body.OutChannels[^1];
    public int OutputStride { get; }
    public abstract IReadOnlyList<string> StageNames { get; }
    public abstract IReadOnlyList<nn.Module> StageModules(string stage);

    /// <summary>
    /// Loads a <c>.safetensors</c> file with torchvision's key names (e.g. <c>resnet18(weights=...).state_dict()</c>)
    /// into the body; the classifier's keys are skipped.
    /// </summary>
    /// <exception cref="WeightLoadException">Keys are missing or unexpected, or shapes differ (another layout or width).</exception>
    public WeightLoadReport LoadTorchvisionWeights(string path)
        => BackboneWeights.LoadInto(Body, path, new WeightLoadOptions { IgnoredPrefixes = [_classifierPrefix] });

    /// <summary>(N, C, H, W) → low-level (N, C_low, H/4, W/4), the body's first map, and high-level (N, C_high, H/OS, W/OS), its last.</summary>
    public override (Tensor LowLevel, Tensor HighLevel) forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var maps = Body.call(input);
        return (maps[0].MoveToOuterDisposeScope(), maps[^1].MoveToOuterDisposeScope());
    }

    public (string LowLevel, string HighLevel) Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string[] maps;
        using (graph.BeginScope("body")) maps = Body.Export(graph, input);
        return (maps[0], maps[^1]);
    }
}
