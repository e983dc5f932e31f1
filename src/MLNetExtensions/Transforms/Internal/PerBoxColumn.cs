using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// A column with one value per box (labels, difficult flags) of any item type, filtered with the boxes when a
/// transform drops some. Generic over the raw item type, made by reflection from the column type.
/// </summary>
internal abstract class PerBoxColumn
{
    public static PerBoxColumn Create(DataViewRow input, DataViewSchema.Column column)
    {
        var itemType = ((VectorDataViewType)column.Type).ItemType.RawType;
        return (PerBoxColumn)Activator.CreateInstance(typeof(PerBoxColumn<>).MakeGenericType(itemType), input, column)!;
    }

    /// <summary>Reads the current row and checks it has one value per box.</summary>
    public abstract void Load(int boxCount, RowContext row, string transform);

    /// <summary>Keeps the values of the boxes <paramref name="kept"/> lists (all when null).</summary>
    public abstract void Filter(int[]? kept);

    public abstract Delegate MakeGetter(Action ensure);
}

internal sealed class PerBoxColumn<T> : PerBoxColumn
{
    private readonly ValueGetter<VBuffer<T>> _getter;
    private readonly string _name;
    private VBuffer<T> _buffer;
    private T[] _values = [];

    public PerBoxColumn(DataViewRow input, DataViewSchema.Column column)
    {
        _getter = input.GetGetter<VBuffer<T>>(column);
        _name = column.Name;
    }

    public override void Load(int boxCount, RowContext row, string transform)
    {
        _getter(ref _buffer);
        if (_buffer.Length != boxCount)
            throw new InvalidDataException($"{transform}: row {row.Position}: column '{_name}' has {_buffer.Length} values for {boxCount} boxes; it must have one value per box.");
        _values = VBufferIO.ToArray(_buffer);
    }

    public override void Filter(int[]? kept)
    {
        if (kept != null)
            _values = kept.Select(i => _values[i]).ToArray();
    }

    public override Delegate MakeGetter(Action ensure)
        => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> dst) => { ensure(); VBufferIO.Write(ref dst, _values); });
}
