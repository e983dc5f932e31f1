using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms.ImageMath;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Crops every image to one pixel rectangle and keeps boxes, their labels and an optional mask consistent: boxes are
/// moved into the crop and clipped to it; a box with no area left, or with less than
/// <see cref="Options.MinVisibleFraction"/> of its area inside the crop, is dropped together with its label and
/// difficult flag. The output image has a known size (<c>Width×Height</c>), so <c>ExtractPixels</c> can follow.
/// </summary>
/// <remarks>
/// An image smaller than the crop rectangle is an error naming the row. Not savable (it reads MLImage columns, which
/// ML.NET 5.0.1's CustomMapping cannot): use it in training-time pipelines, or append it again after loading a model.
/// </remarks>
public sealed class CropImageEstimator : IEstimator<CropImageTransformer>
{
    /// <summary>Default values, in one place.</summary>
    public static class Defaults
    {
        public const string BoxesColumnName = DetectionColumns.Boxes;
        public const string LabelsColumnName = DetectionColumns.Labels;
        public const string DifficultColumnName = DetectionColumns.Difficult;
        /// <summary>Keep a clipped box when at least 10% of its area is inside (the area threshold of YOLO's box candidates).</summary>
        public const float MinVisibleFraction = 0.1f;
    }

    /// <summary>Settings of <see cref="CropImageEstimator"/>, checked when constructed.</summary>
    public sealed class Options
    {
        /// <param name="outputColumnName">The cropped image column.</param>
        /// <param name="x">Left edge of the crop, pixels.</param>
        /// <param name="y">Top edge of the crop, pixels.</param>
        /// <param name="width">Crop width, pixels.</param>
        /// <param name="height">Crop height, pixels.</param>
        /// <param name="inputColumnName">Image column to read; <paramref name="outputColumnName"/> when null.</param>
        /// <param name="boxesColumnName">Boxes, rewritten in place; null when there are none.</param>
        /// <param name="labelsColumnName">One label per box, filtered with the boxes in place; null when there is none.</param>
        /// <param name="difficultColumnName">One flag per box, filtered in place; null when the data has no such column.</param>
        /// <param name="minVisibleFraction">Fraction of a box's area that must remain inside the crop for it to be kept.</param>
        /// <param name="maskColumnName">Optional mask (bytes, H×W row-major), cropped in place.</param>
        /// <param name="maskWidthColumnName">Int32 mask width column, required with a mask.</param>
        /// <param name="maskHeightColumnName">Int32 mask height column, required with a mask.</param>
        public Options(string outputColumnName, int x, int y, int width, int height, string? inputColumnName = null,
            string? boxesColumnName = Defaults.BoxesColumnName, string? labelsColumnName = Defaults.LabelsColumnName,
            string? difficultColumnName = Defaults.DifficultColumnName, float minVisibleFraction = Defaults.MinVisibleFraction,
            string? maskColumnName = null, string? maskWidthColumnName = null, string? maskHeightColumnName = null)
        {
            ColumnCheck.CheckName(outputColumnName, nameof(outputColumnName));
            ColumnCheck.CheckName(inputColumnName, nameof(inputColumnName), allowNull: true);
            if (x < 0 || y < 0)
                throw new ArgumentOutOfRangeException(nameof(x), $"Crop corner ({x}, {y}) must not be negative.");
            if (width <= 0 || height <= 0)
                throw new ArgumentOutOfRangeException(nameof(width), $"Crop size {width}×{height} must be positive.");
            BoxColumns = new PerBoxOptions(boxesColumnName, labelsColumnName, difficultColumnName, minVisibleFraction);
            MaskColumns.Check(maskColumnName, maskWidthColumnName, maskHeightColumnName);
            OutputColumnName = outputColumnName;
            InputColumnName = inputColumnName ?? outputColumnName;
            X = x; Y = y; Width = width; Height = height;
            MaskColumnName = maskColumnName;
            MaskWidthColumnName = maskWidthColumnName;
            MaskHeightColumnName = maskHeightColumnName;
            MaskColumns.CheckDistinct([OutputColumnName, boxesColumnName, labelsColumnName, difficultColumnName,
                MaskColumnName, MaskWidthColumnName, MaskHeightColumnName]);
        }

        public string OutputColumnName { get; }
        public string InputColumnName { get; }
        public int X { get; }
        public int Y { get; }
        public int Width { get; }
        public int Height { get; }
        public string? BoxesColumnName => BoxColumns.Boxes;
        public string? LabelsColumnName => BoxColumns.Labels;
        public string? DifficultColumnName => BoxColumns.Difficult;
        public float MinVisibleFraction => BoxColumns.MinVisibleFraction;
        public string? MaskColumnName { get; }
        public string? MaskWidthColumnName { get; }
        public string? MaskHeightColumnName { get; }
        internal PerBoxOptions BoxColumns { get; }
    }

    private readonly CropOperation _op;

    internal CropImageEstimator(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _op = new CropOperation(options);
    }

    /// <summary>The settings it was made with.</summary>
    public Options Settings => _op.Options;

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return _op.OutputShape(inputSchema, _op.Columns);
    }

    public CropImageTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _op.OutputShape(SchemaShapes.Create(input.Schema), _op.Columns);
        return new CropImageTransformer(_op);
    }
}

/// <summary>The per-row work of <see cref="CropImageEstimator"/>.</summary>
internal sealed class CropOperation : SampleOperation
{
    public CropOperation(CropImageEstimator.Options options)
    {
        Options = options;
        Columns = new SampleColumns(options.OutputColumnName, options.InputColumnName, options.BoxesColumnName,
            options.BoxColumns.PerBoxColumns, options.MaskColumnName, options.MaskWidthColumnName, options.MaskHeightColumnName);
    }

    public CropImageEstimator.Options Options { get; }
    public SampleColumns Columns { get; }
    public override string Name => "CropImage";

    public override ImageDataViewType OutputImageType(ImageDataViewType input) => new(Options.Height, Options.Width);

    public override void Apply(DetectionSample s, RowContext row)
    {
        var o = Options;
        var rect = new PixelRect(o.X, o.Y, o.Width, o.Height);
        if (rect.Right > s.Image.Width || rect.Bottom > s.Image.Height)
            throw new InvalidDataException($"{Name}: row {row.Position}: the image is {s.Image.Width}×{s.Image.Height} but the crop {rect} needs at least {rect.Right}×{rect.Bottom}. Resize first or choose a smaller crop.");
        SampleEdits.Crop(s, rect, o.MinVisibleFraction);
    }
}
