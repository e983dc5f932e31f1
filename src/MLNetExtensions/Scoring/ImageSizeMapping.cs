using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>Input row of <see cref="ImageSizeMapping"/>.</summary>
public sealed class ImageSizeInput
{
    [ColumnName(ScoringColumns.ImagePath)] public string ImagePath = "";
}

/// <summary>Output row of <see cref="ImageSizeMapping"/>: the original image size that predicted boxes are scaled to.</summary>
public sealed class ImageSizeOutput
{
    [ColumnName(ScoringColumns.OriginalWidth)] public float Width;
    [ColumnName(ScoringColumns.OriginalHeight)] public float Height;
}

/// <summary>
/// Stateless mapping from an image path to the image's size, read from its header. Scoring chains made before
/// <see cref="ImagePixelsMapping"/> (which gives the size with the pixels) have it as their second step; it stays so
/// models saved then load and score as before. A custom mapping because ML.NET's
/// image columns cannot be read by one (an <c>MLImage</c> member of unknown size cannot be declared), and the size is
/// gone once <c>ResizeImages</c> ran.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ImageSizeMapping : CustomMappingFactory<ImageSizeInput, ImageSizeOutput>
{
    public const string ContractName = "MLNetExtensions.ImageSize.v1";

    public override Action<ImageSizeInput, ImageSizeOutput> GetMapping() => Map;

    internal static void Map(ImageSizeInput input, ImageSizeOutput output)
    {
        var (w, h) = ImageHeader.ReadSize(input.ImagePath);
        // The whole file is decoded once here so a truncated or damaged image fails, named, instead of scoring grey pixels.
        ImageFileDecoder.Check(input.ImagePath);
        output.Width = w;
        output.Height = h;
    }
}
