using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Detection;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// torchvision's ResNet-18/34/50 (<see cref="ResNetBackbone"/>) as a DeepLab v3+ backbone. DeepLab's rule for the
/// output stride is torchvision's <c>replace_stride_with_dilation</c>: output stride 16 dilates <c>layer4</c>
/// ([false, false, true]), output stride 8 dilates <c>layer3</c> and <c>layer4</c> ([false, true, true], what
/// torchvision's deeplabv3_resnet50 uses). Low-level features: <c>layer1</c> (stride 4); high-level: <c>layer4</c>.
/// The ResNet is the child <c>body</c>, whose state_dict keys are torchvision's (<c>conv1.weight</c>,
/// <c>layer1.0.bn1.running_mean</c>, ...), so torchvision weights load with <see cref="LoadTorchvisionWeights"/>.
/// Stages: <c>stem</c> (<c>conv1</c> and <c>bn1</c>), <c>layer1</c> .. <c>layer4</c>.
/// </summary>
public sealed class ResNetSegmentationBackbone : TorchvisionSegmentationBackbone
{
    private readonly ResNetBackbone body;

    /// <summary>Creates the backbone with random (TorchSharp default) weights.</summary>
    /// <param name="layout">The ResNet (e.g. <see cref="ResNetBackboneOptions.ResNet18"/>, possibly with another
    /// <see cref="ResNetBackboneOptions.BaseWidth"/> or <see cref="ResNetBackboneOptions.InChannels"/>); its
    /// <see cref="ResNetBackboneOptions.ReplaceStrideWithDilation"/> and <see cref="ResNetBackboneOptions.Stages"/>
    /// are replaced by the output stride's (all four stages).</param>
    /// <param name="outputStride">16 or 8.</param>
    public ResNetSegmentationBackbone(ResNetBackboneOptions layout, int outputStride = 16)
        : base(nameof(ResNetSegmentationBackbone), outputStride, classifierPrefix: "fc.")
    {
        ArgumentNullException.ThrowIfNull(layout);
        bool[] dilate = outputStride == 8 ? [false, true, true] : [false, false, true];
        body = new ResNetBackbone(layout with { ReplaceStrideWithDilation = dilate, Stages = 4 });
        RegisterComponents();
    }

    /// <summary>The ResNet, whose state_dict keys are torchvision's minus <c>fc.*</c>.</summary>
    public ResNetBackbone ResNet => body;

    protected override FeatureExtractor Body => body;

    public override IReadOnlyList<string> StageNames => body.StageNames;

    /// <inheritdoc cref="ResNetBackbone.StageModules"/>
    public override IReadOnlyList<nn.Module> StageModules(string stage) => body.StageModules(stage);
}
