using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Visualization;

/// <summary>One image's boxes ready to draw: ground truth (no score) and predictions (with score), classes 0-based.</summary>
public sealed record ImageDetections(string ImagePath, IReadOnlyList<DrawnBox> GroundTruth, IReadOnlyList<DrawnBox> Predictions)
{
    /// <summary>
    /// Reads the first <paramref name="maxRows"/> rows of a detection <see cref="IDataView"/> (the <see cref="DetectionColumns"/>
    /// schema). Ground truth comes from Boxes/Labels when present, predictions from PredictedBoxes/PredictedLabels/Scores
    /// when present (a scored view has both); at least one of the two must be there.
    /// </summary>
    /// <exception cref="ArgumentException">A column is missing or has the wrong type; the message names it.</exception>
    /// <exception cref="InvalidDataException">A row's box and label counts disagree; the message names the row and file.</exception>
    public static IReadOnlyList<ImageDetections> Read(IDataView data, int maxRows = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (maxRows < 0) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "maxRows must be >= 0.");
        var schema = data.Schema;
        var path = schema.GetColumnOrNull(DetectionColumns.ImagePath)
            ?? throw new ArgumentException($"Column '{DetectionColumns.ImagePath}' is missing: the images to draw on are unknown.", nameof(data));
        var gt = Pair(schema, DetectionColumns.Boxes, DetectionColumns.Labels, null);
        var pred = Pair(schema, DetectionColumns.PredictedBoxes, DetectionColumns.PredictedLabels, DetectionColumns.Scores);
        if (gt == null && pred == null)
            throw new ArgumentException($"Neither '{DetectionColumns.Boxes}'/'{DetectionColumns.Labels}' nor '{DetectionColumns.PredictedBoxes}'/" +
                                        $"'{DetectionColumns.PredictedLabels}'/'{DetectionColumns.Scores}' are there: nothing to draw.", nameof(data));

        var columns = new List<DataViewSchema.Column> { path };
        foreach (var c in new[] { gt?.Boxes, gt?.Labels, pred?.Boxes, pred?.Labels, pred?.Scores })
            if (c is { } col) columns.Add(col);
        using var cursor = data.GetRowCursor(columns);
        var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(path);
        var readGt = gt == null ? null : Reader(cursor, gt.Value);
        var readPred = pred == null ? null : Reader(cursor, pred.Value);
        var result = new List<ImageDetections>();
        ReadOnlyMemory<char> p = default;
        for (long row = 0; result.Count < maxRows && cursor.MoveNext(); row++)
        {
            getPath(ref p);
            string file = p.ToString();
            result.Add(new ImageDetections(file, readGt?.Invoke(row, file) ?? [], readPred?.Invoke(row, file) ?? []));
        }
        return result;
    }

    private readonly record struct Columns(DataViewSchema.Column Boxes, DataViewSchema.Column Labels, DataViewSchema.Column? Scores);

    private static Columns? Pair(DataViewSchema schema, string boxes, string labels, string? scores)
    {
        var b = schema.GetColumnOrNull(boxes);
        var l = schema.GetColumnOrNull(labels);
        var s = scores == null ? null : schema.GetColumnOrNull(scores);
        if (b == null || l == null || (scores != null && s == null)) return null;
        Check(b.Value, t => t is VectorDataViewType { ItemType: NumberDataViewType n } && n == NumberDataViewType.Single, "a vector of Single");
        Check(l.Value, t => t is VectorDataViewType { ItemType: KeyDataViewType { RawType: var r } } && r == typeof(uint), "a vector of UInt32 keys");
        if (s != null) Check(s.Value, t => t is VectorDataViewType { ItemType: NumberDataViewType n } && n == NumberDataViewType.Single, "a vector of Single");
        return new Columns(b.Value, l.Value, s);
    }

    private static void Check(DataViewSchema.Column column, Func<DataViewType, bool> ok, string expected)
    {
        if (!ok(column.Type))
            throw new ArgumentException($"Column '{column.Name}' must be {expected}, but is {column.Type}.");
    }

    private static Func<long, string, DrawnBox[]> Reader(DataViewRowCursor cursor, Columns c)
    {
        var getBoxes = cursor.GetGetter<VBuffer<float>>(c.Boxes);
        var getLabels = cursor.GetGetter<VBuffer<uint>>(c.Labels);
        var getScores = c.Scores is { } sc ? cursor.GetGetter<VBuffer<float>>(sc) : null;
        VBuffer<float> boxes = default, scores = default;
        VBuffer<uint> labels = default;
        return (row, file) =>
        {
            getBoxes(ref boxes); getLabels(ref labels); getScores?.Invoke(ref scores);
            var b = boxes.DenseValues().ToArray();
            var l = labels.DenseValues().ToArray();
            var s = getScores == null ? null : scores.DenseValues().ToArray();
            if (b.Length != 4 * l.Length || (s != null && s.Length != l.Length))
                throw new InvalidDataException($"Row {row} ('{file}'): {b.Length} values in '{c.Boxes.Name}', {l.Length} in '{c.Labels.Name}'" +
                                               (s != null ? $", {s.Length} in '{c.Scores!.Value.Name}'" : "") + "; boxes need 4 values per label (and one score per label).");
            var drawn = new DrawnBox[l.Length];
            for (int i = 0; i < l.Length; i++)
                drawn[i] = new DrawnBox(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3], (int)l[i] - 1, s?[i]);
            return drawn;
        };
    }
}
