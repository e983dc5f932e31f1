using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// Binds a <see cref="SampleOperation"/> to an input schema: reads the image and its annotations of each row, applies
/// the operation once per row (shared by all output getters) and serves the results. Output images follow ML.NET's
/// image transforms: an image stays valid until its cursor moves to the next row, then it is disposed.
/// </summary>
internal sealed class SampleRowMapper : BoundRowMapper
{
    private readonly SampleOperation _op;
    private readonly SampleColumns _columns;
    private readonly DataViewSchema.Column _image;
    private readonly DataViewSchema.Column? _boxes, _mask, _maskWidth, _maskHeight;
    private readonly DataViewSchema.Column[] _perBox;

    private SampleRowMapper(DataViewSchema input, SampleOperation op, SampleColumns columns, List<DataViewSchema.DetachedColumn> added)
        : base(input, added)
    {
        _op = op;
        _columns = columns;
        _image = input[columns.InputImage];
        _boxes = columns.Boxes == null ? null : input[columns.Boxes];
        _perBox = columns.PerBox.Select(n => input[n]).ToArray();
        _mask = columns.Mask == null ? null : input[columns.Mask];
        _maskWidth = columns.MaskWidth == null ? null : input[columns.MaskWidth];
        _maskHeight = columns.MaskHeight == null ? null : input[columns.MaskHeight];
        Dependencies = new[] { _image, _boxes, _mask, _maskWidth, _maskHeight }
            .Where(c => c.HasValue).Select(c => c!.Value).Concat(_perBox).ToArray();
    }

    public static SampleRowMapper Bind(DataViewSchema input, SampleOperation op, SampleColumns columns)
    {
        op.OutputShape(SchemaShapes.Create(input), columns); // throws naming the column when one is missing or mistyped
        var added = new List<DataViewSchema.DetachedColumn>
        {
            new(columns.OutputImage, op.OutputImageType((ImageDataViewType)input[columns.InputImage].Type)),
        };
        if (columns.Boxes != null)
            added.Add(new(columns.Boxes, new VectorDataViewType(NumberDataViewType.Single)));
        foreach (var name in columns.PerBox)
        {
            var c = input[name];
            added.Add(new(name, new VectorDataViewType(((VectorDataViewType)c.Type).ItemType), c.Annotations));
        }
        if (columns.Mask != null)
        {
            added.Add(new(columns.Mask, new VectorDataViewType(NumberDataViewType.Byte)));
            added.Add(new(columns.MaskWidth!, NumberDataViewType.Int32));
            added.Add(new(columns.MaskHeight!, NumberDataViewType.Int32));
        }
        foreach (var name in op.ExtraColumns)
            added.Add(new(name, NumberDataViewType.Single));
        return new SampleRowMapper(input, op, columns, added);
    }

    public override IReadOnlyList<DataViewSchema.Column> Dependencies { get; }

    public override RowComputation Start(DataViewRow input) => new Computation(this, input);

    private sealed class Computation : RowComputation
    {
        private readonly SampleRowMapper _m;
        private readonly DataViewRow _input;
        private readonly ValueGetter<MLImage> _getImage;
        private readonly ValueGetter<VBuffer<float>>? _getBoxes;
        private readonly ValueGetter<VBuffer<byte>>? _getMask;
        private readonly ValueGetter<int>? _getMaskWidth, _getMaskHeight;
        private readonly ValueGetter<DataViewRowId> _getId;
        private readonly PerBoxColumn[] _perBox;
        private readonly Delegate[] _getters;
        private long _position = -1;
        private DetectionSample? _sample;
        private MLImage? _output;
        private MLImage? _inputImage;
        private VBuffer<float> _boxBuffer;
        private VBuffer<byte> _maskBuffer;

        public Computation(SampleRowMapper m, DataViewRow input)
        {
            _m = m;
            _input = input;
            _getImage = input.GetGetter<MLImage>(m._image);
            _getBoxes = m._boxes is { } b ? input.GetGetter<VBuffer<float>>(b) : null;
            _getMask = m._mask is { } k ? input.GetGetter<VBuffer<byte>>(k) : null;
            _getMaskWidth = m._maskWidth is { } w ? input.GetGetter<int>(w) : null;
            _getMaskHeight = m._maskHeight is { } h ? input.GetGetter<int>(h) : null;
            _getId = input.GetIdGetter();
            _perBox = m._perBox.Select(c => PerBoxColumn.Create(input, c)).ToArray();

            var getters = new List<Delegate>
            {
                (ValueGetter<MLImage>)((ref MLImage dst) => { Ensure(); dst = _output ??= _sample!.Image.ToImage(); }),
            };
            if (_getBoxes != null)
                getters.Add((ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => { Ensure(); VBufferIO.Write(ref dst, _sample!.Boxes); }));
            foreach (var p in _perBox)
                getters.Add(p.MakeGetter(Ensure));
            if (_getMask != null)
            {
                getters.Add((ValueGetter<VBuffer<byte>>)((ref VBuffer<byte> dst) => { Ensure(); VBufferIO.Write(ref dst, _sample!.Mask); }));
                getters.Add((ValueGetter<int>)((ref int dst) => { Ensure(); dst = _sample!.MaskWidth; }));
                getters.Add((ValueGetter<int>)((ref int dst) => { Ensure(); dst = _sample!.MaskHeight; }));
            }
            for (int i = 0; i < m._op.ExtraColumns.Count; i++)
            {
                int index = i;
                getters.Add((ValueGetter<float>)((ref float dst) => { Ensure(); dst = _sample!.Extras[index]; }));
            }
            _getters = getters.ToArray();
        }

        public override Delegate GetGetter(int addedIndex) => _getters[addedIndex];

        private void Ensure()
        {
            if (_sample != null && _position == _input.Position)
                return;
            _output?.Dispose();
            _output = null;
            _sample = null;
            DataViewRowId id = default;
            _getId(ref id);
            var row = new RowContext(_input.Position, id);
            var sample = Read(row);
            _m._op.Apply(sample, row);
            foreach (var p in _perBox) p.Filter(sample.Kept);
            _sample = sample;
            _position = _input.Position;
        }

        private DetectionSample Read(RowContext row)
        {
            string name = _m._op.Name;
            var columns = _m._columns;
            _getImage(ref _inputImage!);
            if (_inputImage == null)
                throw new InvalidDataException($"{name}: row {row.Position}: image column '{columns.InputImage}' is empty (did LoadImages find the file?).");
            var sample = new DetectionSample { Image = ImagePixels.Read(_inputImage, name, columns.InputImage, row.Position) };

            int boxCount = 0;
            if (_getBoxes != null)
            {
                _getBoxes(ref _boxBuffer);
                if (_boxBuffer.Length % 4 != 0)
                    throw new InvalidDataException($"{name}: row {row.Position}: column '{columns.Boxes}' has {_boxBuffer.Length} values; boxes take 4 values each [xmin, ymin, xmax, ymax].");
                sample.Boxes = VBufferIO.ToArray(_boxBuffer);
                boxCount = _boxBuffer.Length / 4;
            }
            foreach (var p in _perBox)
                p.Load(boxCount, row, name);

            if (_getMask != null)
            {
                int w = 0, h = 0;
                _getMask(ref _maskBuffer);
                _getMaskWidth!(ref w);
                _getMaskHeight!(ref h);
                if (w != sample.Image.Width || h != sample.Image.Height)
                    throw new InvalidDataException($"{name}: row {row.Position}: the mask is {w}×{h} ('{columns.MaskWidth}'×'{columns.MaskHeight}') but the image is {sample.Image.Width}×{sample.Image.Height}; a mask must match its image.");
                if (_maskBuffer.Length != w * h)
                    throw new InvalidDataException($"{name}: row {row.Position}: column '{columns.Mask}' has {_maskBuffer.Length} values for a {w}×{h} mask; it must hold width×height values, row-major.");
                sample.Mask = VBufferIO.ToArray(_maskBuffer);
                sample.MaskWidth = w;
                sample.MaskHeight = h;
            }
            return sample;
        }

        public override void Dispose()
        {
            _output?.Dispose();
            _output = null;
        }
    }
}
