using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Evaluation;

/// <summary>One image's ground truth and detections, as the evaluators use them. Classes are 0-based.</summary>
internal sealed class EvaluationImage
{
    public required long Row { get; init; }
    public required long? ImageId { get; init; }
    /// <summary>(G, 4) boxes <c>[xmin, ymin, xmax, ymax]</c>, row-major.</summary>
    public required float[] GtBoxes { get; init; }
    public required int[] GtClasses { get; init; }
    public required bool[] GtDifficult { get; init; }
    public required bool[] GtCrowd { get; init; }
    /// <summary>The object areas for COCO's area ranges, or null to use box areas.</summary>
    public required float[]? GtAreas { get; init; }
    /// <summary>(D, 4) boxes <c>[xmin, ymin, xmax, ymax]</c>, row-major.</summary>
    public required float[] DtBoxes { get; init; }
    public required int[] DtClasses { get; init; }
    public required float[] DtScores { get; init; }
}

/// <summary>
/// Reads a scored detection <see cref="IDataView"/> into <see cref="EvaluationImage"/>s, checking the schema (a wrong
/// or missing column fails naming it) and every row (the counts of boxes, labels, flags and scores must agree).
/// </summary>
internal static class DetectionEvaluationData
{
    public static (string[] ClassNames, List<EvaluationImage> Images) Read(IDataView data, DetectionEvaluatorOptions options)
    {
        var schema = data.Schema;
        var boxes = Vector(schema, options.BoxesColumnName, NumberDataViewType.Single, "ground-truth boxes");
        var labels = KeyVector(schema, options.LabelsColumnName, "ground-truth labels");
        var classNames = DetectionDataView.GetClassNames(schema, options.LabelsColumnName);
        var predBoxes = Vector(schema, options.PredictedBoxesColumnName, NumberDataViewType.Single, "predicted boxes");
        var predLabels = KeyVector(schema, options.PredictedLabelsColumnName, "predicted labels");
        CheckSameClasses(schema, predLabels, options.PredictedLabelsColumnName, options.LabelsColumnName, classNames);
        var scores = Vector(schema, options.ScoresColumnName, NumberDataViewType.Single, "detection scores");
        var difficult = OptionalVector(schema, options.DifficultColumnName, BooleanDataViewType.Instance, "difficult flags");
        var crowd = OptionalVector(schema, options.IsCrowdColumnName, BooleanDataViewType.Instance, "crowd flags");
        var areas = OptionalVector(schema, options.AreasColumnName, NumberDataViewType.Single, "object areas");
        DataViewSchema.Column? imageId = null;
        if (options.ImageIdColumnName != null && schema.GetColumnOrNull(options.ImageIdColumnName) is { } idColumn)
        {
            if (idColumn.Type != NumberDataViewType.Int64)
                throw new ArgumentException($"Column '{idColumn.Name}' (image ids) must be Int64, but is {idColumn.Type}. Convert it, or set {nameof(DetectionEvaluatorOptions.ImageIdColumnName)} = null.");
            imageId = idColumn;
        }

        var columns = new List<DataViewSchema.Column> { boxes, labels, predBoxes, predLabels, scores };
        foreach (var c in new[] { difficult, crowd, areas, imageId })
            if (c != null) columns.Add(c.Value);

        var images = new List<EvaluationImage>();
        using var cursor = data.GetRowCursor(columns);
        var getBoxes = cursor.GetGetter<VBuffer<float>>(boxes);
        var getLabels = cursor.GetGetter<VBuffer<uint>>(labels);
        var getPredBoxes = cursor.GetGetter<VBuffer<float>>(predBoxes);
        var getPredLabels = cursor.GetGetter<VBuffer<uint>>(predLabels);
        var getScores = cursor.GetGetter<VBuffer<float>>(scores);
        var getDifficult = difficult == null ? null : cursor.GetGetter<VBuffer<bool>>(difficult.Value);
        var getCrowd = crowd == null ? null : cursor.GetGetter<VBuffer<bool>>(crowd.Value);
        var getAreas = areas == null ? null : cursor.GetGetter<VBuffer<float>>(areas.Value);
        var getId = imageId == null ? null : cursor.GetGetter<long>(imageId.Value);
        VBuffer<float> fBuf = default;
        VBuffer<uint> kBuf = default;
        VBuffer<bool> bBuf = default;
        long id = 0;
        for (long row = 0; cursor.MoveNext(); row++)
        {
            long? rowId = null;
            if (getId != null) { getId(ref id); rowId = id; }
            string where = $"Row {row}{(rowId is long i ? $" (image id {i})" : "")}";

            float[] gtBoxes = Read(getBoxes, ref fBuf);
            int[] gtClasses = Classes(getLabels, ref kBuf, classNames.Length, where, options.LabelsColumnName);
            int g = gtClasses.Length;
            CheckCount(gtBoxes.Length, 4 * g, where, options.BoxesColumnName, $"4 per label in '{options.LabelsColumnName}'");
            bool[] gtDifficult = getDifficult == null ? new bool[g] : Flags(getDifficult, ref bBuf, g, where, options.DifficultColumnName!, options.LabelsColumnName);
            bool[] gtCrowd = getCrowd == null ? new bool[g] : Flags(getCrowd, ref bBuf, g, where, options.IsCrowdColumnName!, options.LabelsColumnName);
            float[]? gtAreas = null;
            if (getAreas != null)
            {
                gtAreas = Read(getAreas, ref fBuf);
                if (gtAreas.Length == 0 && g > 0) gtAreas = null; // no areas given: box areas
                else CheckCount(gtAreas.Length, g, where, options.AreasColumnName!, $"one per label in '{options.LabelsColumnName}'");
            }

            float[] dtBoxes = Read(getPredBoxes, ref fBuf);
            int[] dtClasses = Classes(getPredLabels, ref kBuf, classNames.Length, where, options.PredictedLabelsColumnName);
            int d = dtClasses.Length;
            CheckCount(dtBoxes.Length, 4 * d, where, options.PredictedBoxesColumnName, $"4 per label in '{options.PredictedLabelsColumnName}'");
            float[] dtScores = Read(getScores, ref fBuf);
            CheckCount(dtScores.Length, d, where, options.ScoresColumnName, $"one per label in '{options.PredictedLabelsColumnName}'");
            for (int k = 0; k < d; k++)
                if (float.IsNaN(dtScores[k]))
                    throw new InvalidDataException($"{where}: score {k} in '{options.ScoresColumnName}' is NaN; scores must be numbers to be ranked.");

            images.Add(new EvaluationImage
            {
                Row = row, ImageId = rowId,
                GtBoxes = gtBoxes, GtClasses = gtClasses, GtDifficult = gtDifficult, GtCrowd = gtCrowd, GtAreas = gtAreas,
                DtBoxes = dtBoxes, DtClasses = dtClasses, DtScores = dtScores,
            });
        }

        if (imageId != null)
        {
            // pycocotools walks images in ascending id order (np.unique), which decides the order of equal scores.
            var firstRow = new Dictionary<long, long>();
            foreach (var im in images)
                if (!firstRow.TryAdd(im.ImageId!.Value, im.Row))
                    throw new InvalidDataException($"Rows {firstRow[im.ImageId.Value]} and {im.Row} both have image id {im.ImageId} in '{imageId.Value.Name}'; each image must be one row. Merge the rows, or set {nameof(DetectionEvaluatorOptions.ImageIdColumnName)} = null.");
            images = images.OrderBy(im => im.ImageId!.Value).ToList();
        }
        return (classNames, images);
    }

    private static float[] Read(ValueGetter<VBuffer<float>> getter, ref VBuffer<float> buffer)
    {
        getter(ref buffer);
        return buffer.DenseValues().ToArray();
    }

    private static int[] Classes(ValueGetter<VBuffer<uint>> getter, ref VBuffer<uint> buffer, int classCount, string where, string column)
    {
        getter(ref buffer);
        var keys = buffer.DenseValues().ToArray();
        var classes = new int[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i] == 0 || keys[i] > classCount)
                throw new InvalidDataException($"{where}: label {i} in '{column}' is key {keys[i]}, outside the {classCount} classes (key 0 means a missing value). Every box needs a known class.");
            classes[i] = (int)keys[i] - 1;
        }
        return classes;
    }

    private static bool[] Flags(ValueGetter<VBuffer<bool>> getter, ref VBuffer<bool> buffer, int count, string where, string column, string labelsColumn)
    {
        getter(ref buffer);
        if (buffer.Length == 0) return new bool[count]; // no flags given: none set
        var flags = buffer.DenseValues().ToArray();
        CheckCount(flags.Length, count, where, column, $"one per label in '{labelsColumn}'");
        return flags;
    }

    private static void CheckCount(int actual, int expected, string where, string column, string rule)
    {
        if (actual != expected)
            throw new InvalidDataException($"{where}: '{column}' holds {actual} values but should hold {expected} ({rule}).");
    }

    private static DataViewSchema.Column Vector(DataViewSchema schema, string name, PrimitiveDataViewType itemType, string what)
    {
        var column = DetectionDataView.RequireColumn(schema, name);
        if (column.Type is not VectorDataViewType vt || vt.ItemType != itemType)
            throw new ArgumentException($"Column '{name}' ({what}) must be a vector of {itemType}, but is {column.Type}.");
        return column;
    }

    private static DataViewSchema.Column? OptionalVector(DataViewSchema schema, string? name, PrimitiveDataViewType itemType, string what)
        => name == null || schema.GetColumnOrNull(name) == null ? null : Vector(schema, name, itemType, what);

    private static DataViewSchema.Column KeyVector(DataViewSchema schema, string name, string what)
    {
        var column = DetectionDataView.RequireColumn(schema, name);
        if (column.Type is not VectorDataViewType { ItemType: KeyDataViewType key } || key.RawType != typeof(uint))
            throw new ArgumentException($"Column '{name}' ({what}) must be a vector of UInt32 keys (class indices with the class names as key values), but is {column.Type}.");
        return column;
    }

    private static void CheckSameClasses(DataViewSchema schema, DataViewSchema.Column predicted, string predictedName, string labelsName, string[] classNames)
    {
        var key = (KeyDataViewType)((VectorDataViewType)predicted.Type).ItemType;
        if (key.Count != (ulong)classNames.Length)
            throw new ArgumentException($"Column '{predictedName}' has {key.Count} classes but '{labelsName}' has {classNames.Length}; predictions and ground truth must use the same class list.");
        if (predicted.Annotations.Schema.GetColumnOrNull("KeyValues") == null)
            return; // keys without names: same count is all that can be checked
        var names = DetectionDataView.GetClassNames(schema, predictedName);
        for (int i = 0; i < names.Length; i++)
            if (names[i] != classNames[i])
                throw new ArgumentException($"Class {i + 1} is '{names[i]}' in '{predictedName}' but '{classNames[i]}' in '{labelsName}'; predictions and ground truth must use the same class list in the same order.");
    }
}
