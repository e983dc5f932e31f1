using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data.Coco;

/// <summary>
/// Adds the columns of one view to the rows of another that have the same image id, as SQL's left join would:
/// ground truth on the left, predictions read from a results file on the right. Left rows without a match get
/// empty vectors (no detections) and default scalars.
/// </summary>
internal static class ImageIdJoin
{
    public static IDataView Join(IDataView left, IDataView right, string imageIdColumn)
    {
        var leftIds = ReadIds(left, imageIdColumn, "left (ground truth)");
        var rightIds = ReadIds(right, imageIdColumn, "right (predictions)");
        var leftRowById = new Dictionary<long, int>();
        for (int i = 0; i < leftIds.Length; i++)
            if (!leftRowById.TryAdd(leftIds[i], i))
                throw new InvalidDataException($"The ground truth has image id {leftIds[i]} in rows {leftRowById[leftIds[i]]} and {i}; joining needs one row per image.");
        var rightRowOfLeft = Enumerable.Repeat(-1, leftIds.Length).ToArray();
        for (int j = 0; j < rightIds.Length; j++)
        {
            if (!leftRowById.TryGetValue(rightIds[j], out int i))
                throw new InvalidDataException($"Predictions row {j} has image id {rightIds[j]}, which the ground truth does not have. Predict on the ground-truth images, or drop that row.");
            if (rightRowOfLeft[i] >= 0)
                throw new InvalidDataException($"The predictions have image id {rightIds[j]} in rows {rightRowOfLeft[i]} and {j}; joining needs at most one row per image.");
            rightRowOfLeft[i] = j;
        }

        var appended = new List<AppendedColumn>();
        foreach (var column in right.Schema)
        {
            if (column.IsHidden || column.Name == imageIdColumn) continue;
            bool isVector = column.Type is VectorDataViewType;
            var itemType = (column.Type as VectorDataViewType)?.ItemType ?? column.Type as PrimitiveDataViewType
                ?? throw new ArgumentException($"Column '{column.Name}' of the predictions has the type {column.Type}, which cannot be joined; only vectors and scalars of primitive types can.");
            var method = typeof(ImageIdJoin).GetMethod(isVector ? nameof(JoinVector) : nameof(JoinScalar), BindingFlags.NonPublic | BindingFlags.Static)!
                .MakeGenericMethod(itemType.RawType);
            appended.Add((AppendedColumn)method.Invoke(null, [right, column, itemType, rightRowOfLeft])!);
        }
        return new AppendedColumnsDataView(left, appended);
    }

    private static AppendedColumn JoinVector<T>(IDataView right, DataViewSchema.Column column, PrimitiveDataViewType itemType, int[] rightRowOfLeft)
    {
        var values = new List<T[]>();
        using (var cursor = right.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<T>>(column);
            VBuffer<T> v = default;
            while (cursor.MoveNext()) { getter(ref v); values.Add(v.DenseValues().ToArray()); }
        }
        var joined = rightRowOfLeft.Select(j => j < 0 ? [] : values[j]).ToArray();
        return AppendedColumn.Vector(column.Name, itemType, joined, column.Annotations);
    }

    private static AppendedColumn JoinScalar<T>(IDataView right, DataViewSchema.Column column, PrimitiveDataViewType type, int[] rightRowOfLeft)
    {
        var values = new List<T>();
        using (var cursor = right.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<T>(column);
            T v = default!;
            while (cursor.MoveNext()) { getter(ref v); values.Add(v); }
        }
        var joined = rightRowOfLeft.Select(j => j < 0 ? default! : values[j]).ToArray();
        return AppendedColumn.Scalar(column.Name, type, joined);
    }

    private static long[] ReadIds(IDataView data, string imageIdColumn, string side)
    {
        var column = data.Schema.GetColumnOrNull(imageIdColumn)
            ?? throw new ArgumentException($"The {side} data has no column '{imageIdColumn}' to join on. Columns: {string.Join(", ", data.Schema.Select(c => c.Name))}.");
        if (column.Type != NumberDataViewType.Int64)
            throw new ArgumentException($"Column '{imageIdColumn}' of the {side} data must be Int64 (COCO image ids), but is {column.Type}.");
        var ids = new List<long>();
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<long>(column);
        long id = 0;
        while (cursor.MoveNext()) { getter(ref id); ids.Add(id); }
        return ids.ToArray();
    }
}
