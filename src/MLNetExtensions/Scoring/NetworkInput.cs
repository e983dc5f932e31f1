using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Scoring;

/// <summary>What a network takes as input: size and colour. Normalisation happens inside the network (and its ONNX
/// graph), so the input is always raw pixels in [0, 255].</summary>
public sealed record NetworkInput(int Width, int Height, bool Grayscale)
{
    public int Channels => Grayscale ? 1 : 3;

    /// <summary>"WxHxC", how the scoring chain records this input (<see cref="ImagePixelsMapping"/>).</summary>
    public string Layout => $"{Width}x{Height}x{Channels}";

    /// <summary>The input a <see cref="Layout"/> string names.</summary>
    internal static NetworkInput FromLayout(string layout)
    {
        var parts = layout.Split('x');
        if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w) ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h) || w <= 0 || h <= 0 || parts[2] is not ("1" or "3"))
            throw new InvalidDataException($"'{layout}' is not a network input layout (WIDTHxHEIGHTxCHANNELS, channels 1 or 3): the saved scoring chain is damaged; save the model again.");
        return new NetworkInput(w, h, parts[2] == "1");
    }

    /// <summary>
    /// The network's (C, H, W) input bytes for the image file at <paramref name="path"/>: decoded completely
    /// (<see cref="ImageFileDecoder.Decode"/>: truncated files fail, named; transparency on white; EXIF not applied),
    /// then stretched to <see cref="Width"/> × <see cref="Height"/> with antialiased bilinear filtering
    /// (<see cref="AntialiasedBilinear"/>, torchvision's <c>resize(antialias=True)</c>). Training and scoring both read
    /// their pixels here, so they see the same pixels.
    /// </summary>
    public byte[] ReadPixels(string path) => ReadPixelsAndSize(path).Pixels;

    /// <summary><see cref="ReadPixels"/> and the image's own size.</summary>
    internal (byte[] Pixels, int Width, int Height) ReadPixelsAndSize(string path)
    {
        var image = Decode(path);
        return (Resize(image), image.Width, image.Height);
    }

    /// <summary>The decoded image at <paramref name="path"/> in this input's colour, at its own size.</summary>
    internal DecodedImage Decode(string path) => ImageFileDecoder.Decode(path, Grayscale);

    /// <summary><paramref name="image"/> stretched to this input's size: (C, H, W) bytes.</summary>
    internal byte[] Resize(DecodedImage image)
        => AntialiasedBilinear.ResizeToBytes(image.Pixels, image.Width, image.Height, image.Channels, Width, Height);

    /// <summary>
    /// The shape <c>ApplyOnnxModel</c> is given for the pixels: (1, C, H, W) with H left for ML.NET to work out from the
    /// values' count. The pixel column is a vector of unknown size (a custom mapping loaded back cannot declare a size), and
    /// ML.NET's ONNX step reads such a column only when one dimension of its shape is unknown.
    /// </summary>
    internal int[] OnnxShape => [1, Channels, -1, Width];

    /// <summary>
    /// The ML.NET transforms from an image path column to (C, H, W) float pixels (a vector of unknown size, see
    /// <see cref="OnnxShape"/>): an <c>Expression</c> step that records
    /// <see cref="Layout"/> in the chain, then <see cref="ImagePixelsMapping"/> (<see cref="ReadPixels"/>). The scoring
    /// chain starts with them; the original size columns and the layout column are left for the chain to drop.
    /// </summary>
    public IEstimator<ITransformer> PixelPipeline(MLContext ml, string imagePathColumn, string pixelsColumn)
    {
        ArgumentNullException.ThrowIfNull(ml);
        OnnxScoringTransformer.RegisterComponents(ml);
        IEstimator<ITransformer> pipe = new EstimatorChain<ITransformer>();
        if (imagePathColumn != ScoringColumns.ImagePath)
            pipe = pipe.Append(ml.Transforms.CopyColumns(ScoringColumns.ImagePath, imagePathColumn));
        pipe = pipe.Append(ml.Transforms.Expression(ScoringColumns.PixelLayout, $"p => \"{Layout}\"", ScoringColumns.ImagePath))
            .Append(ml.Transforms.CustomMapping(new ImagePixelsMapping().GetMapping(), ImagePixelsMapping.ContractName));
        if (pixelsColumn != ScoringColumns.OnnxPixels)
            pipe = pipe.Append(ml.Transforms.CopyColumns(pixelsColumn, ScoringColumns.OnnxPixels));
        return pipe;
    }
}
