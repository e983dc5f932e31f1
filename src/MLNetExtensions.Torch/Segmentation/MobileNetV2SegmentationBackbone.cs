using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Detection;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// torchvision's MobileNetV2 <c>features</c> (<see cref="MobileNetV2Backbone"/>: depthwise separable inverted
/// residuals) as a DeepLab v3+ backbone, as in the DeepLab v3+ paper's MobileNetV2 variant. Output stride 16 keeps the
/// stride-32 blocks (<c>features.14</c> on) at stride 1 with dilated depthwise convolutions; output stride 8 also the
/// stride-16 ones (<c>features.7</c> on). Low-level features: the output of <c>features.3</c>, the last stride-4 block
/// (24·w channels); high-level: the last 1×1 conv <c>features.18</c> (1280 channels at width 1), the whole of
/// <c>features</c> as torchvision's segmentation models use it. The MobileNetV2 is the child <c>body</c>, whose
/// state_dict keys are torchvision's (<c>features.1.conv.0.0.weight</c>, ...), so torchvision weights load with
/// <see cref="LoadTorchvisionWeights"/>. Stages: <c>features.0</c> .. <c>features.18</c>.
/// </summary>
public sealed class MobileNetV2SegmentationBackbone : TorchvisionSegmentationBackbone
{
    private readonly MobileNetV2Backbone body;
    private readonly Dictionary<string, nn.Module> _stages;

    /// <summary>Creates the backbone with random (TorchSharp default) weights.</summary>
    /// <param name="inChannels">Image channels (3 for RGB; torchvision's weights need 3).</param>
    /// <param name="outputStride">16 or 8.</param>
    /// <param name="widthMultiplier">torchvision's <c>width_mult</c> (channel counts rounded to multiples of 8); 1 for torchvision's weights.</param>
    public MobileNetV2SegmentationBackbone(long inChannels, int outputStride = 16, float widthMultiplier = 1f)
        : base(nameof(MobileNetV2SegmentationBackbone), outputStride, classifierPrefix: "classifier.")
    {
        body = new MobileNetV2Backbone(new MobileNetV2BackboneOptions { InChannels = inChannels, OutputStride = outputStride, WidthMultiplier = widthMultiplier });
        RegisterComponents();
        // features.0 .. features.18, in order: the blocks of the ModuleList.
        _stages = body.named_modules().Where(m => m.name.StartsWith("features.", StringComparison.Ordinal) && m.name.Count(c => c == '.') == 1)
            .ToDictionary(m => m.name, m => m.module);
        StageNames = _stages.Keys.OrderBy(n => int.Parse(n["features.".Length..], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The MobileNetV2, whose state_dict keys are torchvision's minus <c>classifier.*</c>.</summary>
    public MobileNetV2Backbone MobileNet => body;

    protected override FeatureExtractor Body => body;

    public override IReadOnlyList<string> StageNames { get; }

    /// <summary>Stage <c>features.i</c> is block i of the MobileNetV2.</summary>
    public override IReadOnlyList<nn.Module> StageModules(string stage)
        => _stages.TryGetValue(stage, out var module) ? [module]
            : throw new ArgumentException($"The backbone has no stage '{stage}'. Its stages are: {string.Join(", ", StageNames)}.", nameof(stage));
}
