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
        switch (options.Backbone)
        {
            case SegmentationBackboneKind.ResNetLite:
                if (options.BackboneWeightsPath != null)
                    throw new ArgumentException($"{nameof(options.BackboneWeightsPath)} needs a torchvision backbone; {options.Backbone} has none.", nameof(options));
                return new ResNetLiteBackbone(inChannels, os, w);
            case SegmentationBackboneKind.MobileNetV2:
            {
                var mobile = new MobileNetV2SegmentationBackbone(inChannels, os, w);
                if (options.BackboneWeightsPath != null) mobile.LoadTorchvisionWeights(options.BackboneWeightsPath);
                return mobile;
            }
            default:
            {
                var layout = options.Backbone switch
                {
                    SegmentationBackboneKind.ResNet18 => ResNetBackboneOptions.ResNet18,
                    SegmentationBackboneKind.ResNet34 => ResNetBackboneOptions.ResNet34,
                    SegmentationBackboneKind.ResNet50 => ResNetBackboneOptions.ResNet50,
                    _ => throw new ArgumentOutOfRangeException(nameof(options), options.Backbone, "Unknown backbone."),
                };
                var resnet = new ResNetSegmentationBackbone(layout with { InChannels = inChannels, BaseWidth = ResNetBaseWidth(w) }, os);
                if (options.BackboneWeightsPath != null) resnet.LoadTorchvisionWeights(options.BackboneWeightsPath);
                return resnet;
            }
        }
    }

    /// <summary>
    /// torchvision's base width 64 scaled by the width multiplier, rounded to a multiple of 8 (at least 8): libtorch
    /// 2.10's CPU 3×3 convolution gives batch-dependent results for some other channel counts.
    /// </summary>
    internal static long ResNetBaseWidth(float widthMultiplier) => Math.Max(8, (long)Math.Round(64 * widthMultiplier / 8) * 8);
}
