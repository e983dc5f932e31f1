using MLNetExtensions.Torch.Backbones;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>Builds the backbone that <see cref="DeepLabSegmenterOptions"/> describe, with its weights file loaded.</summary>
internal static class SegmentationBackboneFactory
{
    /// <summary>Creates the backbone of <paramref name="options"/> for images of <paramref name="inChannels"/> channels.</summary>
    /// <exception cref="Weights.WeightLoadException"><see cref="DeepLabSegmenterOptions.BackboneWeightsPath"/> does not fit the backbone.</exception>
    public static ISegmentationBackbone Create(DeepLabSegmenterOptions options, long inChannels)
    {
        ArgumentNullException.ThrowIfNull(options);
        int os = options.OutputStride;
        float w = options.WidthMultiplier;
        if (options.Backbone == SegmentationBackboneKind.ResNetLite)
        {
            if (options.BackboneWeightsPath != null)
                throw new ArgumentException($"{nameof(options.BackboneWeightsPath)} needs a torchvision backbone; {options.Backbone} has none.", nameof(options));
            return new ResNetLiteBackbone(inChannels, os, w);
        }
        TorchvisionSegmentationBackbone torchvision = options.Backbone switch
        {
            SegmentationBackboneKind.MobileNetV2 => new MobileNetV2SegmentationBackbone(inChannels, os, w),
            // ML.NET's ImageNet ResNet-18 (an .onnx file) has a third block in layer4.
            SegmentationBackboneKind.ResNet18 => ResNet(options.BackboneWeightsPath is { } path && Weights.PretrainedBackbone.IsOnnx(path)
                ? ResNetBackboneOptions.ImageNetResNet18 : ResNetBackboneOptions.ResNet18),
            SegmentationBackboneKind.ResNet34 => ResNet(ResNetBackboneOptions.ResNet34),
            SegmentationBackboneKind.ResNet50 => ResNet(ResNetBackboneOptions.ResNet50),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Backbone, "Unknown backbone."),
        };
        if (options.BackboneWeightsPath != null) torchvision.LoadTorchvisionWeights(options.BackboneWeightsPath);
        return torchvision;

        ResNetSegmentationBackbone ResNet(ResNetBackboneOptions layout)
            => new(layout with { InChannels = inChannels, BaseWidth = ResNetBaseWidth(w) }, os);
    }

    /// <summary>
    /// torchvision's base width 64 scaled by the width multiplier, rounded to a multiple of 8 (at least 8): libtorch
    /// 2.10's CPU 3×3 convolution gives batch-dependent results for some other channel counts.
    /// </summary>
    internal static long ResNetBaseWidth(float widthMultiplier) => Math.Max(8, (long)Math.Round(64 * widthMultiplier / 8) * 8);
}
