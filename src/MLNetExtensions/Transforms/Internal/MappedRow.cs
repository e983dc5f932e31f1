using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>Serves the getters of a mapped row: input columns pass through, added columns come from the computation.</summary>
internal sealed class MappedGetters : IDisposable
{
    private readonly DataViewRow _input;
    private readonly BoundRowMapper _mapper;
    private readonly bool[] _active;
    private readonly RowComputation? _computation;

    public MappedGetters(DataViewRow input, BoundRowMapper mapper, IEnumerable<DataViewSchema.Column> activeOutputs)
    {
        _input = input;
        _mapper = mapper;
        _active = new bool[mapper.OutputSchema.Count];
        foreach (var c in activeOutputs) _active[c.Index] = true;
        int inputCount = mapper.InputSchema.Count;
        if (Enumerable.Range(inputCount, mapper.AddedCount).Any(i => _active[i]))
            _computation = mapper.Start(input);
    }

    public bool IsActive(DataViewSchema.Column column) => _active[column.Index];

    public ValueGetter<T> Get<T>(DataViewSchema.Column column)
    {
        if (column.Index < 0 || column.Index >= _active.Length)
            throw new ArgumentOutOfRangeException(nameof(column), $"Column '{column.Name}' (index {column.Index}) is not in this schema.");
        if (!_active[column.Index])
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
        int inputCount = _mapper.InputSchema.Count;
        if (column.Index < inputCount)
            return _input.GetGetter<T>(_input.Schema[column.Index]);
        var getter = _computation!.GetGetter(column.Index - inputCount);
        return getter as ValueGetter<T>
            ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type} (raw {column.Type.RawType.Name}); it cannot be read as {typeof(T).Name}.");
    }

    public void Dispose() => _computation?.Dispose();
}

/// <summary>A mapped row over an input row, for <see cref="IRowToRowMapper.GetRow"/>.</summary>
internal sealed class MappedRow : DataViewRow
{
    private readonly DataViewRow _input;
    private readonly MappedGetters _getters;
    private readonly DataViewSchema _schema;

    public MappedRow(DataViewRow input, BoundRowMapper mapper, IEnumerable<DataViewSchema.Column> activeOutputs)
    {
        _input = input;
        _schema = mapper.OutputSchema;
        _getters = new MappedGetters(input, mapper, activeOutputs);
    }

    public override DataViewSchema Schema => _schema;
    public override long Position => _input.Position;
    public override long Batch => _input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
    public override bool IsColumnActive(DataViewSchema.Column column) => _getters.IsActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _getters.Get<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _getters.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A mapped cursor over an input cursor.</summary>
internal sealed class MappedCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly MappedGetters _getters;
    private readonly DataViewSchema _schema;

    public MappedCursor(DataViewRowCursor input, BoundRowMapper mapper, IEnumerable<DataViewSchema.Column> activeOutputs)
    {
        _input = input;
        _schema = mapper.OutputSchema;
        _getters = new MappedGetters(input, mapper, activeOutputs);
    }

    public override DataViewSchema Schema => _schema;
    public override long Position => _input.Position;
    public override long Batch => _input.Batch;
    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
    public override bool MoveNext() => _input.MoveNext();
    public override bool IsColumnActive(DataViewSchema.Column column) => _getters.IsActive(column);
    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _getters.Get<TValue>(column);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _getters.Dispose();
            _input.Dispose();
        }
        base.Dispose(disposing);
    }
}
