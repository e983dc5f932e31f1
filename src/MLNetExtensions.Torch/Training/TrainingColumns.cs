using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Torch.Training;

/// <summary>The trainers' input column check, run by their <c>GetOutputSchema</c> so a wrong column fails when the
/// pipeline is built or fitted, before any data is read.</summary>
internal static class TrainingColumns
{
    /// <summary>Throws naming the column, what it must be and what it is (or the columns there are).</summary>
    public static void Require(IReadOnlyDictionary<string, SchemaShape.Column> columns, string name, Func<SchemaShape.Column, bool> ok, string expected)
    {
        if (!columns.TryGetValue(name, out var c))
            throw new ArgumentOutOfRangeException(nameof(columns), $"Column '{name}' not found; it must be {expected}. Columns: {string.Join(", ", columns.Keys)}.");
        if (!ok(c))
            throw new ArgumentOutOfRangeException(nameof(columns), $"Column '{name}' must be {expected}, but is {(c.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : "a vector of ")}{c.ItemType}{(c.IsKey ? " keys" : "")}.");
    }

    public static bool IsText(SchemaShape.Column c) => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType is TextDataViewType;
}
