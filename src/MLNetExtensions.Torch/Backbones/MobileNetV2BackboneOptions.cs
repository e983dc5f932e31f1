namespace MLNetExtensions.Torch.Backbones;

/// <summary>The layout of a <see cref="MobileNetV2Backbone"/>. Defaults (torchvision's mobilenet_v2) live here.</summary>
public sealed record MobileNetV2BackboneOptions
{
    /// <summary>Scales every width (rounded to multiples of 8, as torchvision's <c>width_mult</c>); 1 = torchvision's weights.</summary>
    public float WidthMultiplier { get; init; } = 1f;

    /// <summary>
    /// Input pixels per pixel of the last map: 32 (the classifier's), 16 or 8. Below 32 the later stride-2 blocks
    /// keep stride 1 and dilate their depthwise convolutions instead (DeepLab's rule: the block that would stride keeps
    /// the current rate, the blocks after it use rate·2).
    /// </summary>
    public int OutputStride { get; init; } = 32;

    /// <summary>Image channels (3 for RGB; pretrained torchvision weights need 3).</summary>
    public long InChannels { get; init; } = 3;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (!(WidthMultiplier > 0) || !float.IsFinite(WidthMultiplier))
            throw new ArgumentOutOfRangeException(nameof(WidthMultiplier), WidthMultiplier, $"{nameof(WidthMultiplier)} must be positive.");
        if (OutputStride is not (8 or 16 or 32))
            throw new ArgumentOutOfRangeException(nameof(OutputStride), OutputStride, $"{nameof(OutputStride)} must be 8, 16 or 32.");
        if (InChannels < 1)
            throw new ArgumentOutOfRangeException(nameof(InChannels), InChannels, $"{nameof(InChannels)} must be at least 1.");
    }
}
