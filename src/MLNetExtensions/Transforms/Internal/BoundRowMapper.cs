using Microsoft.ML;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// A row mapping bound to one input schema: the columns it adds (appended after every input column, so an added
/// column with an input column's name hides it, as in ML.NET) and how to compute them for a row.
/// </summary>
internal abstract class BoundRowMapper
{
    protected BoundRowMapper(DataViewSchema inputSchema, IReadOnlyList<DataViewSchema.DetachedColumn> addedColumns)
    {
        InputSchema = inputSchema;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumns(addedColumns);
        OutputSchema = builder.ToSchema();
        AddedCount = addedColumns.Count;
    }

    public DataViewSchema InputSchema { get; }
    public DataViewSchema OutputSchema { get; }
    public int AddedCount { get; }

    /// <summary>Input columns read to compute any added column.</summary>
    public abstract IReadOnlyList<DataViewSchema.Column> Dependencies { get; }

    /// <summary>Per-cursor state computing the added columns of <paramref name="input"/>'s current row.</summary>
    public abstract RowComputation Start(DataViewRow input);

    /// <summary>The input columns needed to serve <paramref name="outputColumns"/>.</summary>
    public IEnumerable<DataViewSchema.Column> InputColumnsFor(IEnumerable<DataViewSchema.Column> outputColumns)
    {
        var needed = new HashSet<int>();
        foreach (var c in outputColumns)
        {
            if (c.Index < InputSchema.Count) needed.Add(c.Index);
            else foreach (var d in Dependencies) needed.Add(d.Index);
        }
        return needed.OrderBy(i => i).Select(i => InputSchema[i]);
    }
}

/// <summary>Computes the added columns of one cursor's rows; getters are indexed by added column (0-based).</summary>
internal abstract class RowComputation : IDisposable
{
    public abstract Delegate GetGetter(int addedIndex);
    public virtual void Dispose() { }
}
