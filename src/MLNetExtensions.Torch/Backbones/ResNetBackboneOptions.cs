namespace MLNetExtensions.Torch.Backbones;

/// <summary>The residual block a <see cref="ResNetBackbone"/> is built from.</summary>
public enum ResNetBlock
{
    /// <summary>Two 3×3 convolutions (ResNet-18/34; torchvision's <c>BasicBlock</c>, expansion 1).</summary>
    Basic,
    /// <summary>1×1, 3×3, 1×1 with 4× expansion (ResNet-50/101; torchvision's <c>Bottleneck</c>).</summary>
    Bottleneck,
}

/// <summary>
/// The layout of a <see cref="ResNetBackbone"/>. Defaults (ResNet-18) live here; <see cref="Validate"/> is called by
/// the backbone's constructor. <see cref="ResNet18"/>, <see cref="ResNet34"/> and <see cref="ResNet50"/> give
/// torchvision's layouts; change <see cref="BaseWidth"/> for narrower nets (their weights are no longer torchvision's).
/// </summary>
public sealed record ResNetBackboneOptions
{
    /// <summary>Block type.</summary>
    public ResNetBlock Block { get; init; } = ResNetBlock.Basic;

    /// <summary>Blocks in layer1..layer4 (ResNet-18: 2, 2, 2, 2).</summary>
    public IReadOnlyList<int> Layers { get; init; } = [2, 2, 2, 2];

    /// <summary>Channels of the stem and of layer1's 3×3 convolutions; layerK uses BaseWidth·2^(K-1). torchvision: 64.</summary>
    public long BaseWidth { get; init; } = 64;

    /// <summary>Image channels (3 for RGB; pretrained torchvision weights need 3).</summary>
    public long InChannels { get; init; } = 3;

    /// <summary>
    /// For layer2, layer3 and layer4: replace the stage's stride 2 by dilation, as torchvision's
    /// <c>replace_stride_with_dilation</c>. [false, false, true] gives output stride 16, [false, true, true] output
    /// stride 8 (DeepLab). The first block of a dilated stage keeps the previous dilation; the later ones use the new one.
    /// </summary>
    public IReadOnlyList<bool> ReplaceStrideWithDilation { get; init; } = [false, false, false];

    /// <summary>How many of layer1..layer4 to build (1..4): 3 leaves out layer4 (and its weights) when the stride-16 map is the last one needed.</summary>
    public int Stages { get; init; } = 4;

    /// <summary>torchvision's resnet18 layout (BasicBlock, 2-2-2-2).</summary>
    public static ResNetBackboneOptions ResNet18 => new();

    /// <summary>
    /// The layout of ML.NET's ImageNet ResNet-18 (<see cref="Weights.PretrainedBackbone.ImageNetResNet18"/>): torchvision's
    /// resnet18 with a third basic block in layer4 (2-2-2-3), as the CNTK graph has it. Up to layer3 it is resnet18.
    /// </summary>
    public static ResNetBackboneOptions ImageNetResNet18 => new() { Layers = [2, 2, 2, 3] };

    /// <summary>torchvision's resnet34 layout (BasicBlock, 3-4-6-3).</summary>
    public static ResNetBackboneOptions ResNet34 => new() { Layers = [3, 4, 6, 3] };

    /// <summary>torchvision's resnet50 layout (Bottleneck, 3-4-6-3).</summary>
    public static ResNetBackboneOptions ResNet50 => new() { Block = ResNetBlock.Bottleneck, Layers = [3, 4, 6, 3] };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Block))
            throw new ArgumentOutOfRangeException(nameof(Block), Block, "Unknown ResNet block type.");
        if (Layers is null || Layers.Count != 4 || Layers.Any(n => n < 1))
            throw new ArgumentException($"{nameof(Layers)} needs four block counts of at least 1 (layer1..layer4), got [{string.Join(", ", Layers ?? [])}].", nameof(Layers));
        if (BaseWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, $"{nameof(BaseWidth)} must be at least 1.");
        if (InChannels < 1)
            throw new ArgumentOutOfRangeException(nameof(InChannels), InChannels, $"{nameof(InChannels)} must be at least 1.");
        if (ReplaceStrideWithDilation is null || ReplaceStrideWithDilation.Count != 3)
            throw new ArgumentException($"{nameof(ReplaceStrideWithDilation)} needs three flags (layer2, layer3, layer4), got {ReplaceStrideWithDilation?.Count ?? 0}.", nameof(ReplaceStrideWithDilation));
        if (Stages is < 1 or > 4)
            throw new ArgumentOutOfRangeException(nameof(Stages), Stages, $"{nameof(Stages)} must be within 1..4.");
    }
}
