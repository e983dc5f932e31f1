using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Adds class-agnostic region proposals from <see cref="SelectiveSearch"/> to every row: reads the image file named by
/// a text column, decodes it as ML.NET's <c>LoadImages</c> does (<see cref="MLImage.CreateFromFile"/>, SkiaSharp) and
/// writes a <c>VBuffer&lt;float&gt;</c> of N×4 <c>[xmin, ymin, xmax, ymax]</c> in pixels of the image on disk (pixel
/// edges), best-ranked first, at most <see cref="Options.MaxProposals"/>. An image with no proposal left (every one
/// smaller than <see cref="Options.MinBoxSize"/>) gets an empty vector.
/// </summary>
/// <remarks>
/// Stateless; <c>Fit</c> only checks the schema. Not savable with <c>mlContext.Model.Save</c>: it has nothing to learn,
/// so append it again after loading a model. A missing or undecodable image is an error naming the row and the path.
/// </remarks>
public sealed class SelectiveSearchEstimator : IEstimator<SelectiveSearchTransformer>
{
    internal const string Name = "SelectiveSearch";

    /// <summary>Default values, in one place.</summary>
    public static class Defaults
    {
        public const string OutputColumnName = "Proposals";
        public const string ImagePathColumnName = DetectionColumns.ImagePath;
        /// <summary>R-CNN's budget per image (Girshick et al. 2014 used about 2000 selective search boxes).</summary>
        public const int MaxProposals = 2000;
    }

    /// <summary>Settings of <see cref="SelectiveSearchEstimator"/>, each checked when set.</summary>
    public sealed class Options
    {
        private readonly string _output = Defaults.OutputColumnName;
        private readonly string _imagePath = Defaults.ImagePathColumnName;
        private readonly int _maxProposals = Defaults.MaxProposals;

        /// <summary>The proposals column (default <c>Proposals</c>).</summary>
        public string OutputColumnName
        {
            get => _output;
            init { ColumnCheck.CheckName(value, nameof(OutputColumnName)); _output = value; }
        }

        /// <summary>The text column of image file paths (default <c>ImagePath</c>).</summary>
        public string ImagePathColumnName
        {
            get => _imagePath;
            init { ColumnCheck.CheckName(value, nameof(ImagePathColumnName)); _imagePath = value; }
        }

        /// <summary>Folder that relative paths are relative to (as <c>LoadImages</c>' imageFolder); null: the current
        /// directory.</summary>
        public string? ImageFolder { get; init; }

        /// <summary>At most this many proposals per image, the best-ranked (default 2000).</summary>
        public int MaxProposals
        {
            get => _maxProposals;
            init => _maxProposals = value > 0 ? value
                : throw new ArgumentOutOfRangeException(nameof(MaxProposals), value,
                    "SelectiveSearchEstimator.Options.MaxProposals must be positive: it is the most proposals kept per image (2000 in R-CNN).");
        }

        /// <inheritdoc cref="SelectiveSearchOptions.Strategy"/>
        public SelectiveSearchStrategy Strategy { get => Search.Strategy; init => Search = Search with { Strategy = value }; }

        /// <inheritdoc cref="SelectiveSearchOptions.Seed"/>
        public int Seed { get => Search.Seed; init => Search = Search with { Seed = value }; }

        /// <inheritdoc cref="SelectiveSearchOptions.MinBoxSize"/>
        public int MinBoxSize { get => Search.MinBoxSize; init => Search = Search with { MinBoxSize = value }; }

        /// <inheritdoc cref="SelectiveSearchOptions.MinRegionSize"/>
        public int? MinRegionSize { get => Search.MinRegionSize; init => Search = Search with { MinRegionSize = value }; }

        internal SelectiveSearchOptions Search { get; private init; } = new();
    }

    internal SelectiveSearchEstimator(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Settings = options;
    }

    /// <summary>The settings it was made with.</summary>
    public Options Settings { get; }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return OutputShape(inputSchema, Settings);
    }

    public SelectiveSearchTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        OutputShape(SchemaShapes.Create(input.Schema), Settings);
        return new SelectiveSearchTransformer(Settings);
    }

    internal static SchemaShape OutputShape(SchemaShape input, Options options)
    {
        ColumnCheck.Require(input, Name, "image path", options.ImagePathColumnName, ColumnCheck.ImagePath, ColumnCheck.IsText);
        return ColumnCheck.With(input,
            [ColumnCheck.ShapeOf(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single))]);
    }
}

/// <summary>The per-row work of <see cref="SelectiveSearchTransformer"/>: path → pixels → proposals.</summary>
internal sealed class SelectiveSearchRowMapper : BoundRowMapper
{
    private readonly SelectiveSearchEstimator.Options _options;
    private readonly DataViewSchema.Column _path;

    private SelectiveSearchRowMapper(DataViewSchema input, SelectiveSearchEstimator.Options options)
        : base(input, [new(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single))])
    {
        _options = options;
        _path = input[options.ImagePathColumnName];
        Dependencies = [_path];
    }

    public static SelectiveSearchRowMapper Bind(DataViewSchema input, SelectiveSearchEstimator.Options options)
    {
        SelectiveSearchEstimator.OutputShape(SchemaShapes.Create(input), options); // names a missing or mistyped column
        return new SelectiveSearchRowMapper(input, options);
    }

    public override IReadOnlyList<DataViewSchema.Column> Dependencies { get; }

    public override RowComputation Start(DataViewRow input) => new Computation(this, input);

    /// <summary>The proposals of one image file, at most <see cref="SelectiveSearchEstimator.Options.MaxProposals"/>.</summary>
    internal float[] Propose(string path, long row)
    {
        string file = _options.ImageFolder == null ? path : Path.Combine(_options.ImageFolder, path);
        return ProposeFile(file, _options.Search, _options.MaxProposals, SelectiveSearchEstimator.Name, _options.ImagePathColumnName, row).Boxes;
    }

    /// <summary>
    /// The best <paramref name="maxProposals"/> proposals of the image file <paramref name="file"/>, decoded as
    /// <c>LoadImages</c> does, in pixels of the image, with its size; errors name <paramref name="source"/>, the row and the file.
    /// </summary>
    internal static (float[] Boxes, int Width, int Height) ProposeFile(string file, SelectiveSearchOptions search, int maxProposals, string source, string column, long row)
    {
        if (!File.Exists(file))
            throw new FileNotFoundException($"{source}: row {row}: the image '{file}' does not exist (column '{column}').", file);
        MLImage image;
        try
        {
            image = MLImage.CreateFromFile(file);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException($"{source}: row {row}: the image '{file}' could not be decoded: {e.Message}", e);
        }
        using (image)
        {
            var pixels = ImagePixels.Read(image, source, column, row);
            byte[] rgb = pixels.ToRgb();
            float[] boxes = SelectiveSearch.Propose(rgb, pixels.Height, pixels.Width, search);
            int keep = Math.Min(boxes.Length, 4 * maxProposals);
            return (keep == boxes.Length ? boxes : boxes[..keep], pixels.Width, pixels.Height);
        }
    }

    private sealed class Computation : RowComputation
    {
        private readonly SelectiveSearchRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly ValueGetter<ReadOnlyMemory<char>> _getPath;
        private long _position = -1;
        private float[] _boxes = [];
        private ReadOnlyMemory<char> _pathValue;

        public Computation(SelectiveSearchRowMapper mapper, DataViewRow input)
        {
            _mapper = mapper;
            _input = input;
            _getPath = input.GetGetter<ReadOnlyMemory<char>>(mapper._path);
        }

        public override Delegate GetGetter(int addedIndex) => (ValueGetter<VBuffer<float>>)Get;

        private void Get(ref VBuffer<float> value)
        {
            if (_position != _input.Position)
            {
                _getPath(ref _pathValue);
                _boxes = _mapper.Propose(_pathValue.ToString(), _input.Position);
                _position = _input.Position;
            }
            VBufferIO.Write(ref value, _boxes);
        }
    }
}
