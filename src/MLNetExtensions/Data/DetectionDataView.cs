using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data;

/// <summary>
/// Builds and reads <see cref="IDataView"/>s in the detection schema of <see cref="DetectionColumns"/>.
/// Every reader goes through <see cref="Create"/>, so key types and class-name annotations are made in one place.
/// </summary>
public static class DetectionDataView
{
    private sealed class Row
    {
        public string ImagePath = "";
        public float[] Boxes = [];
        public uint[] Labels = [];
        public bool[] Difficult = [];
    }

    /// <summary>Turns records into an <see cref="IDataView"/>; labels become keys over <paramref name="classNames"/>.</summary>
    /// <exception cref="InvalidDataException">A record names a class that is not in <paramref name="classNames"/>.</exception>
    public static IDataView Create(MLContext mlContext, IEnumerable<DetectionRecord> records, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return Create(mlContext.Data, records, classNames);
    }

    /// <summary>Same as <see cref="Create(MLContext, IEnumerable{DetectionRecord}, IReadOnlyList{string})"/>, for
    /// loaders that are extension methods of <c>mlContext.Data</c>.</summary>
    public static IDataView Create(DataOperationsCatalog data, IEnumerable<DetectionRecord> records, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count == 0)
            throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        var index = new Dictionary<string, uint>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
            if (!index.TryAdd(classNames[i], (uint)(i + 1)))
                throw new ArgumentException($"Class name '{classNames[i]}' appears twice.", nameof(classNames));

        var rows = new List<Row>();
        foreach (var r in records)
        {
            var boxes = new float[r.Boxes.Count * 4];
            var labels = new uint[r.Labels.Count];
            for (int i = 0; i < r.Boxes.Count; i++)
            {
                var b = r.Boxes[i];
                boxes[4 * i] = b.XMin; boxes[4 * i + 1] = b.YMin; boxes[4 * i + 2] = b.XMax; boxes[4 * i + 3] = b.YMax;
                if (!index.TryGetValue(r.Labels[i], out labels[i]))
                    throw new InvalidDataException($"'{r.ImagePath}': box {i} has the unknown class '{r.Labels[i]}'. Known classes: {string.Join(", ", classNames)}. Add it to the class list or fix the annotation.");
            }
            rows.Add(new Row { ImagePath = r.ImagePath, Boxes = boxes, Labels = labels, Difficult = r.Difficult.ToArray() });
        }
        return data.LoadFromEnumerable(rows, SchemaFor(classNames));
    }

    /// <summary>The schema definition of a detection row with the given classes.</summary>
    public static SchemaDefinition SchemaFor(IReadOnlyList<string> classNames)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Boxes)].ColumnType = new VectorDataViewType(NumberDataViewType.Single);
        var labels = schema[nameof(Row.Labels)];
        labels.ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), classNames.Count));
        var names = new VBuffer<ReadOnlyMemory<char>>(classNames.Count, classNames.Select(n => n.AsMemory()).ToArray());
        labels.AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classNames.Count));
        return schema;
    }

    /// <summary>The class names carried by a key-typed column's <c>KeyValues</c> annotation.</summary>
    /// <exception cref="ArgumentException">The column is missing, not key-typed, or has no key values.</exception>
    public static string[] GetClassNames(DataViewSchema schema, string column)
    {
        var col = schema.GetColumnOrNull(column)
            ?? throw new ArgumentException($"Column '{column}' not found. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        if ((col.Type is VectorDataViewType vt ? vt.ItemType : col.Type) is not KeyDataViewType)
            throw new ArgumentException($"Column '{column}' must be a vector of keys (class indices with class names as key values), but is {col.Type}.");
        if (col.Annotations.Schema.GetColumnOrNull("KeyValues") == null)
            throw new ArgumentException($"Column '{column}' has no KeyValues annotation: the class names are unknown.");
        VBuffer<ReadOnlyMemory<char>> names = default;
        col.GetKeyValues(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    /// <summary>Reads ground-truth rows back as records (labels as class names).</summary>
    public static List<DetectionRecord> ReadRecords(IDataView data,
        string imagePathColumn = DetectionColumns.ImagePath, string boxesColumn = DetectionColumns.Boxes,
        string labelsColumn = DetectionColumns.Labels, string? difficultColumn = DetectionColumns.Difficult)
    {
        var classNames = GetClassNames(data.Schema, labelsColumn);
        var pathCol = RequireColumn(data.Schema, imagePathColumn);
        var boxCol = RequireColumn(data.Schema, boxesColumn);
        var labelCol = RequireColumn(data.Schema, labelsColumn);
        var diffCol = difficultColumn == null ? null : data.Schema.GetColumnOrNull(difficultColumn);
        var cols = new List<DataViewSchema.Column> { pathCol, boxCol, labelCol };
        if (diffCol != null) cols.Add(diffCol.Value);

        var result = new List<DetectionRecord>();
        using var cursor = data.GetRowCursor(cols);
        var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(pathCol);
        var getBoxes = cursor.GetGetter<VBuffer<float>>(boxCol);
        var getLabels = cursor.GetGetter<VBuffer<uint>>(labelCol);
        var getDiff = diffCol == null ? null : cursor.GetGetter<VBuffer<bool>>(diffCol.Value);
        ReadOnlyMemory<char> path = default; VBuffer<float> boxes = default; VBuffer<uint> labels = default; VBuffer<bool> diff = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            getPath(ref path); getBoxes(ref boxes); getLabels(ref labels);
            getDiff?.Invoke(ref diff);
            var b = boxes.DenseValues().ToArray();
            var l = labels.DenseValues().ToArray();
            if (b.Length != 4 * l.Length)
                throw new InvalidDataException($"Row {row} ('{path}'): {b.Length} box values for {l.Length} labels; boxes must hold 4 values per label.");
            var boxList = new BoundingBox[l.Length];
            var names = new string[l.Length];
            for (int i = 0; i < l.Length; i++)
            {
                boxList[i] = new BoundingBox(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]);
                if (l[i] == 0 || l[i] > classNames.Length)
                    throw new InvalidDataException($"Row {row} ('{path}'): label {i} is key {l[i]}, outside the {classNames.Length} classes.");
                names[i] = classNames[l[i] - 1];
            }
            bool[]? d = getDiff == null ? null : diff.DenseValues().ToArray();
            if (d != null && d.Length != l.Length) d = null;
            result.Add(new DetectionRecord(path.ToString(), boxList, names, d));
            row++;
        }
        return result;
    }

    internal static DataViewSchema.Column RequireColumn(DataViewSchema schema, string name)
        => schema.GetColumnOrNull(name)
           ?? throw new ArgumentException($"Column '{name}' not found. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
}
