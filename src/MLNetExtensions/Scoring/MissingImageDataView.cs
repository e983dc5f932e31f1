using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// What a scoring transformer's <c>Transform</c> returns: the chain's output, unchanged, except that a missing image file
/// fails naming the file and its row of the input. ML.NET's own error for it reads the rows on worker threads and says
/// only "Splitter/consolidator worker encountered exception while consuming source data"; the file is in its inner
/// exception, and the row is found here by looking the path up in the input's image path column.
/// </summary>
internal sealed class MissingImageDataView(IDataView scored, IDataView input, string imagePathColumn) : IDataView
{
    public bool CanShuffle => scored.CanShuffle;
    public DataViewSchema Schema => scored.Schema;
    public long? GetRowCount() => scored.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => Guard(() => new Cursor(this, scored.GetRowCursor(columnsNeeded, rand)));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => Guard(() => scored.GetRowCursorSet(columnsNeeded, n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c)).ToArray());

    /// <summary>Runs <paramref name="read"/>; a missing image anywhere in what it throws becomes a
    /// <see cref="FileNotFoundException"/> naming the file and the row.</summary>
    private T Guard<T>(Func<T> read)
    {
        try { return read(); }
        catch (Exception ex) when (MissingFile(ex) is { } file) { throw Describe(file, ex); }
    }

    private FileNotFoundException Describe(string file, Exception ex)
    {
        string where = RowOf(file) is long row ? $"Row {row} of the input" : "A row of the input";
        return new FileNotFoundException($"{where}: the image '{file}' (column '{imagePathColumn}') does not exist. Fix the path, or leave the row out.", file, ex);
    }

    /// <summary>The missing file an exception (or one inside it) reports, or null.</summary>
    private static string? MissingFile(Exception? ex)
    {
        for (; ex != null; ex = ex.InnerException)
        {
            if (ex is FileNotFoundException { FileName: { Length: > 0 } name }) return name;
            if (ex is AggregateException aggregate)
                return aggregate.InnerExceptions.Select(MissingFile).FirstOrDefault(f => f != null);
        }
        return null;
    }

    /// <summary>The first row of the input whose image path is <paramref name="file"/> (read again, on this thread).</summary>
    private long? RowOf(string file)
    {
        try
        {
            var column = input.Schema.GetColumnOrNull(imagePathColumn);
            if (column is null) return null;
            string full = Path.GetFullPath(file);
            using var cursor = input.GetRowCursor([column.Value]);
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column.Value);
            var path = default(ReadOnlyMemory<char>);
            while (cursor.MoveNext())
            {
                getter(ref path);
                string text = path.ToString();
                if (text.Length > 0 && (text == file || Path.GetFullPath(text) == full)) return cursor.Position;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException) { }   // the row is a courtesy; the file is named anyway
        return null;
    }

    private sealed class Cursor(MissingImageDataView owner, DataViewRowCursor inner) : DataViewRowCursor
    {
        public override DataViewSchema Schema => inner.Schema;
        public override long Position => inner.Position;
        public override long Batch => inner.Batch;
        public override bool MoveNext() => owner.Guard(inner.MoveNext);
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var getter = inner.GetGetter<TValue>(column);
            return (ref TValue value) =>
            {
                try { getter(ref value); }
                catch (Exception ex) when (MissingFile(ex) is { } file) { throw owner.Describe(file, ex); }
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
