using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNetExtensions.Scoring;

/// <summary>Input row of <see cref="ImagePixelsMapping"/>: the image path and the network input it is read for.</summary>
public sealed class ImagePixelsInput
{
    [ColumnName(ScoringColumns.ImagePath)] public string ImagePath = "";
    /// <summary><see cref="NetworkInput.Layout"/>: width, height and channels, written into the saved chain by an
    /// <c>Expression</c> step (a custom mapping is loaded back without settings of its own).</summary>
    [ColumnName(ScoringColumns.PixelLayout)] public string Layout = "";
}

/// <summary>Output row of <see cref="ImagePixelsMapping"/>: the original size (predicted boxes are scaled to it) and the
/// network's (C, H, W) input pixels in [0, 255].</summary>
public sealed class ImagePixelsOutput
{
    [ColumnName(ScoringColumns.OriginalWidth)] public float Width;
    [ColumnName(ScoringColumns.OriginalHeight)] public float Height;
    [ColumnName(ScoringColumns.OnnxPixels)] [VectorType] public float[] Pixels = [];
}

/// <summary>
/// Stateless mapping from an image path to its network input pixels (<see cref="NetworkInput.ReadPixels"/>: the whole
/// file decoded, composited, resized with antialiased bilinear filtering) and its original size. Training reads its
/// pixels with the same function, so both see the same pixels. A custom mapping because ML.NET's <c>ResizeImages</c>
/// only resizes nearest-neighbour, and its image columns cannot be read by a custom mapping.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ImagePixelsMapping : CustomMappingFactory<ImagePixelsInput, ImagePixelsOutput>
{
    public const string ContractName = "MLNetExtensions.ImagePixels.v1";

    public override Action<ImagePixelsInput, ImagePixelsOutput> GetMapping() => Map;

    internal static void Map(ImagePixelsInput input, ImagePixelsOutput output)
    {
        var network = NetworkInput.FromLayout(input.Layout);
        var (pixels, width, height) = network.ReadPixelsAndSize(input.ImagePath);
        if (output.Pixels.Length != pixels.Length) output.Pixels = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) output.Pixels[i] = pixels[i];
        output.Width = width;
        output.Height = height;
    }
}
