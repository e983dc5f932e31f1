using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data;

/// <summary>
/// One column added to an <see cref="AppendedColumnsDataView"/>: a name, a type, annotations and one value per row
/// of the source, held in memory.
/// </summary>
internal abstract class AppendedColumn
{
    protected AppendedColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations)
    {
        Name = name;
        Type = type;
        Annotations = annotations;
    }

    public string Name { get; }
    public DataViewType Type { get; }
    public DataViewSchema.Annotations? Annotations { get; }
    public abstract int Count { get; }

    /// <summary>A getter that reads the value of the row the cursor is on.</summary>
    public abstract Delegate MakeGetter(DataViewRowCursor cursor);

    /// <summary>A vector column: <c>values[row]</c> is row <c>row</c>'s vector.</summary>
    public static AppendedColumn Vector<T>(string name, PrimitiveDataViewType itemType, IReadOnlyList<T[]> values, DataViewSchema.Annotations? annotations = null)
        => new VectorColumn<T>(name, new VectorDataViewType(itemType), values, annotations);

    /// <summary>A scalar column: <c>values[row]</c> is row <c>row</c>'s value.</summary>
    public static AppendedColumn Scalar<T>(string name, PrimitiveDataViewType type, IReadOnlyList<T> values)
        => new ScalarColumn<T>(name, type, values);

    private static long RowOf(DataViewRowCursor cursor, int count, string name)
    {
        long row = cursor.Position;
        if (row < 0 || row >= count)
            throw new InvalidOperationException($"Column '{name}' holds {count} rows but the cursor is at row {row}.");
        return row;
    }

    private sealed class VectorColumn<T>(string name, DataViewType type, IReadOnlyList<T[]> values, DataViewSchema.Annotations? annotations)
        : AppendedColumn(name, type, annotations)
    {
        public override int Count => values.Count;

        public override Delegate MakeGetter(DataViewRowCursor cursor)
        {
            ValueGetter<VBuffer<T>> getter = (ref VBuffer<T> dst) =>
            {
                var src = values[(int)RowOf(cursor, values.Count, Name)];
                var editor = VBufferEditor.Create(ref dst, src.Length);
                src.AsSpan().CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return getter;
        }
    }

    private sealed class ScalarColumn<T>(string name, DataViewType type, IReadOnlyList<T> values)
        : AppendedColumn(name, type, null)
    {
        public override int Count => values.Count;

        public override Delegate MakeGetter(DataViewRowCursor cursor)
        {
            ValueGetter<T> getter = (ref T dst) => dst = values[(int)RowOf(cursor, values.Count, Name)];
            return getter;
        }
    }
}

/// <summary>
/// A source view with in-memory columns added after its own, matched by row position. Readers use it to add
/// dataset-specific columns (COCO's ImageId, IsCrowd, Areas) to what <see cref="DetectionDataView.Create(MLContext, IEnumerable{DetectionRecord}, IReadOnlyList{string})"/>
/// builds, so the detection schema is still made in one place. Row position is the row index only when the
/// source is read in order, so this view never shuffles and hands out one cursor at a time.
/// </summary>
internal sealed class AppendedColumnsDataView : IDataView
{
    private readonly IDataView _source;
    private readonly AppendedColumn[] _columns;

    public AppendedColumnsDataView(IDataView source, IEnumerable<AppendedColumn> columns)
    {
        _source = source;
        _columns = columns.ToArray();
        long? rows = source.GetRowCount();
        foreach (var c in _columns)
            if (rows != null && c.Count != rows)
                throw new ArgumentException($"Column '{c.Name}' holds {c.Count} values but the data has {rows} rows.");
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(source.Schema);
        foreach (var c in _columns)
            builder.AddColumn(c.Name, c.Type, c.Annotations);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        var sourceColumns = _source.Schema.Where(c => needed.Contains(c.Index));
        return new Cursor(this, _source.GetRowCursor(sourceColumns), needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(AppendedColumnsDataView parent, DataViewRowCursor source, HashSet<int> active) : DataViewRowCursor
    {
        private readonly int _sourceCount = parent._source.Schema.Count;

        public override DataViewSchema Schema => parent.Schema;
        public override long Position => source.Position;
        public override long Batch => source.Batch;
        public override bool MoveNext() => source.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _sourceCount ? source.IsColumnActive(source.Schema[column.Index]) : active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _sourceCount)
                return source.GetGetter<TValue>(source.Schema[column.Index]);
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was made.");
            var appended = parent._columns[column.Index - _sourceCount];
            return appended.MakeGetter(this) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {appended.Type}; it cannot be read as {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) source.Dispose();
            base.Dispose(disposing);
        }
    }
}
