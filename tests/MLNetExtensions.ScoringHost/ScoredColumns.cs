using Microsoft.ML;
using Microsoft.ML.Data;

/// <summary>What the host reports: columns of the scored view, PredictionEngine outputs, the re-wrapped detector or segmenter.</summary>
public sealed class HostResult
{
    public List<ScoredColumn> Columns { get; set; } = [];
    public List<EnginePrediction> Engine { get; set; } = [];
    public List<EnginePrediction> Helper { get; set; } = [];
    public List<string> ClassNames { get; set; } = [];
    public List<string> LoadedAssemblies { get; set; } = [];
}

/// <summary>One visible column: its name, its type as ML.NET prints it, its key values (if any) and every row's values as text.</summary>
public sealed class ScoredColumn
{
    public string Name { get; set; } = "";
    public string Type { get; set; } = "";
    public List<string>? KeyValues { get; set; }
    public List<List<string>> Rows { get; set; } = [];
}

/// <summary>One typed PredictionEngine output: a detector's boxes, class names and scores, or a segmenter's mask and its size.</summary>
public sealed class EnginePrediction
{
    public float[] Boxes { get; set; } = [];
    public string[] LabelNames { get; set; } = [];
    public float[] Scores { get; set; } = [];
    public byte[] Mask { get; set; } = [];
    public int Width { get; set; }
    public int Height { get; set; }
}

/// <summary>Reads every visible column of a view as text ("R" round-trip format for floats), so two processes'
/// outputs compare exactly. Shared with the tests, which read the in-process view the same way.</summary>
public static class ScoredColumns
{
    public static List<ScoredColumn> Read(IDataView view)
    {
        var result = new List<ScoredColumn>();
        foreach (var column in view.Schema.Where(c => !c.IsHidden))
        {
            var item = column.Type is VectorDataViewType v ? v.ItemType : column.Type;
            var scored = new ScoredColumn { Name = column.Name, Type = column.Type.ToString() };
            if (column.HasKeyValues())
            {
                VBuffer<ReadOnlyMemory<char>> keys = default;
                column.GetKeyValues(ref keys);
                scored.KeyValues = keys.DenseValues().Select(k => k.ToString()).ToList();
            }
            using var cursor = view.GetRowCursor([column]);
            Func<List<string>> read = (column.Type is VectorDataViewType, item.RawType) switch
            {
                (true, var t) when t == typeof(float) => Vector<float>(cursor, column, x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                (true, var t) when t == typeof(uint) => Vector<uint>(cursor, column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                (true, var t) when t == typeof(byte) => Vector<byte>(cursor, column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                (true, var t) when t == typeof(ReadOnlyMemory<char>) => Vector<ReadOnlyMemory<char>>(cursor, column, x => x.ToString()),
                (false, var t) when t == typeof(ReadOnlyMemory<char>) => Scalar<ReadOnlyMemory<char>>(cursor, column, x => x.ToString()),
                (false, var t) when t == typeof(int) => Scalar<int>(cursor, column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                _ => throw new NotSupportedException($"Column '{column.Name}' has type {column.Type}, which the host does not read."),
            };
            while (cursor.MoveNext()) scored.Rows.Add(read());
            result.Add(scored);
        }
        return result;
    }

    private static Func<List<string>> Vector<T>(DataViewRowCursor cursor, DataViewSchema.Column column, Func<T, string> format)
    {
        var getter = cursor.GetGetter<VBuffer<T>>(column);
        VBuffer<T> buffer = default;
        return () => { getter(ref buffer); return buffer.DenseValues().Select(format).ToList(); };
    }

    private static Func<List<string>> Scalar<T>(DataViewRowCursor cursor, DataViewSchema.Column column, Func<T, string> format)
    {
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        return () => { getter(ref value); return [format(value)]; };
    }
}
