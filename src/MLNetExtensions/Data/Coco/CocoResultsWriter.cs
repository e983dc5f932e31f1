using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data.Coco;

/// <summary>
/// Writes scored rows as a COCO results file (<c>[{image_id, category_id, bbox: [x, y, w, h], score}, ...]</c>), what
/// pycocotools' <c>loadRes</c> and <see cref="CocoResultsReader"/> read: one entry per detection, rows in order and
/// detections in their order within a row. Boxes <c>[xmin, ymin, xmax, ymax]</c> become <c>[xmin, ymin, xmax - xmin,
/// ymax - ymin]</c>, computed and written in doubles, so that reading the file back gives the same floats.
/// </summary>
internal static class CocoResultsWriter
{
    public static int Write(IDataView scored, string path, string? annotationsJsonPath)
    {
        var schema = scored.Schema;
        var boxesColumn = DetectionDataView.RequireColumn(schema, DetectionColumns.PredictedBoxes);
        if (boxesColumn.Type is not VectorDataViewType { ItemType: NumberDataViewType } bt || bt.ItemType != NumberDataViewType.Single)
            throw new ArgumentException($"Column '{DetectionColumns.PredictedBoxes}' must be a vector of Single, but is {boxesColumn.Type}.");
        var labelsColumn = DetectionDataView.RequireColumn(schema, DetectionColumns.PredictedLabels);
        if (labelsColumn.Type is not VectorDataViewType { ItemType: KeyDataViewType key } || key.RawType != typeof(uint))
            throw new ArgumentException($"Column '{DetectionColumns.PredictedLabels}' must be a vector of UInt32 keys, but is {labelsColumn.Type}.");
        var scoresColumn = DetectionDataView.RequireColumn(schema, DetectionColumns.Scores);
        if (scoresColumn.Type is not VectorDataViewType st || st.ItemType != NumberDataViewType.Single)
            throw new ArgumentException($"Column '{DetectionColumns.Scores}' must be a vector of Single, but is {scoresColumn.Type}.");
        var idColumn = schema.GetColumnOrNull(CocoColumns.ImageId);
        if (idColumn is { } ic && ic.Type != NumberDataViewType.Int64)
            throw new ArgumentException($"Column '{CocoColumns.ImageId}' (image ids) must be Int64, but is {ic.Type}.");
        string[] classNames = DetectionDataView.GetClassNames(schema, DetectionColumns.PredictedLabels);

        // Category ids: the instances file's, by class name; without one, the key (class index + 1).
        long[] categoryIds = Enumerable.Range(1, classNames.Length).Select(i => (long)i).ToArray();
        CocoAnnotationFile? file = null;
        if (annotationsJsonPath != null)
        {
            file = CocoAnnotationFile.Load(annotationsJsonPath);
            if (!file.ClassNames.SequenceEqual(classNames))
                throw new ArgumentException($"The predictions' classes ({string.Join(", ", classNames)}) are not the categories of '{annotationsJsonPath}' ({string.Join(", ", file.ClassNames)}) in the same order; score data loaded with LoadFromCocoJson from that file.");
            var idByClass = file.ClassIndexByCategoryId.ToDictionary(p => p.Value, p => p.Key);
            categoryIds = Enumerable.Range(0, classNames.Length).Select(i => idByClass[i]).ToArray();
        }

        var columns = new List<DataViewSchema.Column> { boxesColumn, labelsColumn, scoresColumn };
        if (idColumn != null) columns.Add(idColumn.Value);
        string tmp = path + ".tmp";
        int written = 0;
        try
        {
        using (var stream = File.Create(tmp))
        using (var json = new Utf8JsonWriter(stream))
        using (var cursor = scored.GetRowCursor(columns))
        {
            var getBoxes = cursor.GetGetter<VBuffer<float>>(boxesColumn);
            var getLabels = cursor.GetGetter<VBuffer<uint>>(labelsColumn);
            var getScores = cursor.GetGetter<VBuffer<float>>(scoresColumn);
            var getId = idColumn == null ? null : cursor.GetGetter<long>(idColumn.Value);
            VBuffer<float> boxes = default, scores = default;
            VBuffer<uint> labels = default;
            long id = 0;
            json.WriteStartArray();
            for (long row = 0; cursor.MoveNext(); row++)
            {
                getBoxes(ref boxes);
                getLabels(ref labels);
                getScores(ref scores);
                if (getId != null) getId(ref id);
                else if (file != null)
                    id = row < file.Images.Length ? file.Images[row].Id
                        : throw new InvalidDataException($"Row {row}: the data has no '{CocoColumns.ImageId}' column and more rows than '{annotationsJsonPath}' has images ({file.Images.Length}), so the row's image id is unknown.");
                else id = row;
                var b = boxes.DenseValues().ToArray();
                var l = labels.DenseValues().ToArray();
                var s = scores.DenseValues().ToArray();
                if (b.Length != 4 * l.Length || s.Length != l.Length)
                    throw new InvalidDataException($"Row {row}: '{DetectionColumns.PredictedBoxes}' holds {b.Length} values, '{DetectionColumns.PredictedLabels}' {l.Length} and '{DetectionColumns.Scores}' {s.Length}; expected 4 box values and one score per label.");
                for (int k = 0; k < l.Length; k++)
                {
                    if (l[k] == 0 || l[k] > classNames.Length)
                        throw new InvalidDataException($"Row {row}: label {k} in '{DetectionColumns.PredictedLabels}' is key {l[k]}, outside the {classNames.Length} classes.");
                    if (!float.IsFinite(s[k]) || !b.AsSpan(4 * k, 4).ToArray().All(float.IsFinite))
                        throw new InvalidDataException($"Row {row}: detection {k} has a score or box value that is not a finite number; COCO results need numbers.");
                    json.WriteStartObject();
                    json.WriteNumber("image_id", id);
                    json.WriteNumber("category_id", categoryIds[l[k] - 1]);
                    json.WriteStartArray("bbox");
                    double x0 = b[4 * k], y0 = b[4 * k + 1];
                    json.WriteNumberValue(x0);
                    json.WriteNumberValue(y0);
                    json.WriteNumberValue(b[4 * k + 2] - x0);
                    json.WriteNumberValue(b[4 * k + 3] - y0);
                    json.WriteEndArray();
                    json.WriteNumber("score", (double)s[k]);
                    json.WriteEndObject();
                    written++;
                }
            }
            json.WriteEndArray();
        }
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        File.Move(tmp, path, overwrite: true);
        return written;
    }
}
