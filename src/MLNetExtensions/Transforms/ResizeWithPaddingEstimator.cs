using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms.ImageMath;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Letterbox resize: scales an image to fit inside <c>ImageWidth×ImageHeight</c> keeping its aspect ratio (bilinear,
/// half-pixel centres), pads the rest with a colour, and moves the boxes (and an optional mask) with the pixels.
/// Also writes the mapping as Single columns (<c>{prefix}Scale</c>, <c>{prefix}OffsetX</c>, <c>{prefix}OffsetY</c>,
/// <c>{prefix}SourceWidth</c>, <c>{prefix}SourceHeight</c>) so predicted boxes can be mapped back with
/// <see cref="LetterboxMapping"/>: source = (letterbox − offset) / scale.
/// </summary>
/// <remarks>
/// <para>Use this instead of ML.NET's <c>ResizeImages</c> for detection and segmentation: <c>ResizeImages</c> defaults
/// to <c>ResizingKind.IsoCrop</c>, which crops the image to fill the target and silently moves (or cuts off) every box,
/// and it never touches a <c>Boxes</c> column.</para>
/// <para>The output image has a known size, so <c>ExtractPixels</c> can follow directly. Boxes, mask and mask size are
/// rewritten in place; padded mask pixels become <see cref="SegmentationColumns.IgnoreIndex"/> (255).</para>
/// <para>Not savable: ML.NET 5.0.1 gives third parties no way to load back a transform that reads MLImage columns
/// (<c>CustomMapping</c> cannot read them). It has no learned state: after <c>mlContext.Model.Load</c>, append it again.</para>
/// </remarks>
public sealed class ResizeWithPaddingEstimator : IEstimator<ResizeWithPaddingTransformer>
{
    /// <summary>Suffixes of the geometry columns, after <see cref="Options.GeometryColumnPrefix"/>.</summary>
    public const string ScaleSuffix = "Scale", OffsetXSuffix = "OffsetX", OffsetYSuffix = "OffsetY",
        SourceWidthSuffix = "SourceWidth", SourceHeightSuffix = "SourceHeight";

    /// <summary>Default values, in one place.</summary>
    public static class Defaults
    {
        public const string BoxesColumnName = DetectionColumns.Boxes;
        public const LetterboxAnchor Anchor = LetterboxAnchor.Center;
        /// <summary>Grey 114, the padding of YOLO-style letterboxing.</summary>
        public const byte PadLevel = 114;
        public const string GeometryColumnPrefix = "Letterbox";
    }

    /// <summary>Settings of <see cref="ResizeWithPaddingEstimator"/>, checked when constructed.</summary>
    public sealed class Options
    {
        /// <param name="outputColumnName">The letterboxed image column.</param>
        /// <param name="imageWidth">Target width in pixels.</param>
        /// <param name="imageHeight">Target height in pixels.</param>
        /// <param name="inputColumnName">The image column to read; <paramref name="outputColumnName"/> when null.</param>
        /// <param name="boxesColumnName">Boxes (N×4 pixels) moved in place; null when the data has none (scoring).</param>
        /// <param name="anchor">Centred or top-left placement.</param>
        /// <param name="padRed">Padding colour, red.</param>
        /// <param name="padGreen">Padding colour, green.</param>
        /// <param name="padBlue">Padding colour, blue.</param>
        /// <param name="maskColumnName">Optional mask (bytes, H×W row-major) resized by nearest neighbour in place.</param>
        /// <param name="maskWidthColumnName">Int32 mask width column, required with a mask.</param>
        /// <param name="maskHeightColumnName">Int32 mask height column, required with a mask.</param>
        /// <param name="geometryColumnPrefix">Prefix of the geometry output columns.</param>
        public Options(string outputColumnName, int imageWidth, int imageHeight, string? inputColumnName = null,
            string? boxesColumnName = Defaults.BoxesColumnName, LetterboxAnchor anchor = Defaults.Anchor,
            byte padRed = Defaults.PadLevel, byte padGreen = Defaults.PadLevel, byte padBlue = Defaults.PadLevel,
            string? maskColumnName = null, string? maskWidthColumnName = null, string? maskHeightColumnName = null,
            string geometryColumnPrefix = Defaults.GeometryColumnPrefix)
        {
            ColumnCheck.CheckName(outputColumnName, nameof(outputColumnName));
            ColumnCheck.CheckName(inputColumnName, nameof(inputColumnName), allowNull: true);
            ColumnCheck.CheckName(boxesColumnName, nameof(boxesColumnName), allowNull: true);
            if (imageWidth <= 0 || imageHeight <= 0)
                throw new ArgumentOutOfRangeException(nameof(imageWidth), $"Target size {imageWidth}×{imageHeight} must be positive.");
            if (!Enum.IsDefined(anchor))
                throw new ArgumentOutOfRangeException(nameof(anchor), $"Unknown anchor {anchor}.");
            MaskColumns.Check(maskColumnName, maskWidthColumnName, maskHeightColumnName);
            ColumnCheck.CheckName(geometryColumnPrefix, nameof(geometryColumnPrefix));
            OutputColumnName = outputColumnName;
            InputColumnName = inputColumnName ?? outputColumnName;
            ImageWidth = imageWidth;
            ImageHeight = imageHeight;
            BoxesColumnName = boxesColumnName;
            Anchor = anchor;
            PadRed = padRed; PadGreen = padGreen; PadBlue = padBlue;
            MaskColumnName = maskColumnName;
            MaskWidthColumnName = maskWidthColumnName;
            MaskHeightColumnName = maskHeightColumnName;
            GeometryColumnPrefix = geometryColumnPrefix;
            MaskColumns.CheckDistinct([OutputColumnName, BoxesColumnName, MaskColumnName, MaskWidthColumnName, MaskHeightColumnName,
                ScaleColumnName, OffsetXColumnName, OffsetYColumnName, SourceWidthColumnName, SourceHeightColumnName]);
        }

        public string OutputColumnName { get; }
        public string InputColumnName { get; }
        public int ImageWidth { get; }
        public int ImageHeight { get; }
        public string? BoxesColumnName { get; }
        public LetterboxAnchor Anchor { get; }
        public byte PadRed { get; }
        public byte PadGreen { get; }
        public byte PadBlue { get; }
        public string? MaskColumnName { get; }
        public string? MaskWidthColumnName { get; }
        public string? MaskHeightColumnName { get; }
        public string GeometryColumnPrefix { get; }
        public string ScaleColumnName => GeometryColumnPrefix + ScaleSuffix;
        public string OffsetXColumnName => GeometryColumnPrefix + OffsetXSuffix;
        public string OffsetYColumnName => GeometryColumnPrefix + OffsetYSuffix;
        public string SourceWidthColumnName => GeometryColumnPrefix + SourceWidthSuffix;
        public string SourceHeightColumnName => GeometryColumnPrefix + SourceHeightSuffix;
    }

    private readonly LetterboxOperation _op;

    internal ResizeWithPaddingEstimator(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _op = new LetterboxOperation(options);
    }

    /// <summary>The settings it was made with.</summary>
    public Options Settings => _op.Options;

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return _op.OutputShape(inputSchema, _op.Columns);
    }

    public ResizeWithPaddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _op.OutputShape(SchemaShapes.Create(input.Schema), _op.Columns);
        return new ResizeWithPaddingTransformer(_op);
    }
}

/// <summary>The per-row work of <see cref="ResizeWithPaddingEstimator"/>.</summary>
internal sealed class LetterboxOperation : SampleOperation
{
    public LetterboxOperation(ResizeWithPaddingEstimator.Options options)
    {
        Options = options;
        Columns = new SampleColumns(options.OutputColumnName, options.InputColumnName, options.BoxesColumnName, [],
            options.MaskColumnName, options.MaskWidthColumnName, options.MaskHeightColumnName);
        ExtraColumns = [options.ScaleColumnName, options.OffsetXColumnName, options.OffsetYColumnName,
            options.SourceWidthColumnName, options.SourceHeightColumnName];
    }

    public ResizeWithPaddingEstimator.Options Options { get; }
    public SampleColumns Columns { get; }
    public override string Name => "ResizeWithPadding";
    public override IReadOnlyList<string> ExtraColumns { get; }

    public override ImageDataViewType OutputImageType(ImageDataViewType input) => new(Options.ImageHeight, Options.ImageWidth);

    public override void Apply(DetectionSample s, RowContext row)
    {
        var o = Options;
        var img = s.Image;
        var g = LetterboxGeometry.Compute(img.Width, img.Height, o.ImageWidth, o.ImageHeight, o.Anchor == LetterboxAnchor.Center);
        var content = BilinearResize.Resize(img.Pixels, img.Width, img.Height, 4, g.ContentWidth, g.ContentHeight);
        var pixels = PixelGrid.Filled(o.ImageWidth, o.ImageHeight, img.Colour(o.PadRed, o.PadGreen, o.PadBlue));
        PixelGrid.Paste(pixels, o.ImageWidth, o.ImageHeight, content, g.ContentWidth, g.ContentHeight, 4, g.OffsetX, g.OffsetY);
        s.Image = new ImagePixels(pixels, o.ImageWidth, o.ImageHeight, img.Format);
        if (s.Boxes != null)
            g.MapBoxesForward(s.Boxes);
        if (s.Mask != null)
        {
            s.Mask = MaskOps.Letterbox(s.Mask, s.MaskWidth, s.MaskHeight, g);
            s.MaskWidth = o.ImageWidth;
            s.MaskHeight = o.ImageHeight;
        }
        s.Extras = [g.Scale, g.OffsetX, g.OffsetY, g.SourceWidth, g.SourceHeight];
    }
}
