using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>The lazy <see cref="IDataView"/> a row-mapping transformer returns: the input with the added columns.</summary>
internal sealed class MappedDataView : IDataView
{
    private readonly IDataView _source;
    private readonly BoundRowMapper _mapper;

    public MappedDataView(IDataView source, BoundRowMapper mapper)
    {
        _source = source;
        _mapper = mapper;
    }

    public bool CanShuffle => _source.CanShuffle;
    public DataViewSchema Schema => _mapper.OutputSchema;
    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        var input = _source.GetRowCursor(_mapper.InputColumnsFor(needed), rand);
        return new MappedCursor(input, _mapper, needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        // Each split cursor gets its own computation state; per-row results depend only on the row.
        return _source.GetRowCursorSet(_mapper.InputColumnsFor(needed), n, rand)
            .Select(c => (DataViewRowCursor)new MappedCursor(c, _mapper, needed)).ToArray();
    }
}

/// <summary>The <see cref="IRowToRowMapper"/> of a row-mapping transformer (used by prediction engines).</summary>
internal sealed class MappedRowToRowMapper : IRowToRowMapper
{
    private readonly BoundRowMapper _mapper;

    public MappedRowToRowMapper(BoundRowMapper mapper) => _mapper = mapper;

    public DataViewSchema InputSchema => _mapper.InputSchema;
    public DataViewSchema OutputSchema => _mapper.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        => _mapper.InputColumnsFor(dependingColumns);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        => new MappedRow(input, _mapper, activeColumns);
}
