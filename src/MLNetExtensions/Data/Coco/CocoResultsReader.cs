using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data.Coco;

/// <summary>
/// Reads a COCO results file (<c>[{image_id, category_id, bbox: [x, y, w, h], score}, ...]</c>, what
/// pycocotools' <c>loadRes</c> takes) into scored rows: one per image of the matching instances file, in its
/// order, holding <see cref="CocoColumns.ImageId"/>, <see cref="DetectionColumns.PredictedBoxes"/>
/// (<c>[xmin, ymin, xmax, ymax]</c>), <see cref="DetectionColumns.PredictedLabels"/> (keys over the same class names
/// as <see cref="CocoInstancesReader"/> makes) and <see cref="DetectionColumns.Scores"/>. Detections keep the
/// file's order within an image; boxes are kept as written, as pycocotools does.
/// </summary>
internal static class CocoResultsReader
{
    private sealed class Row
    {
        public long ImageId;
        public float[] PredictedBoxes = [];
        public uint[] PredictedLabels = [];
        public float[] Scores = [];
    }

    public static IDataView Read(DataOperationsCatalog catalog, string resultsJsonPath, string annotationsJsonPath)
    {
        var file = CocoAnnotationFile.Load(annotationsJsonPath);
        var results = CocoJson.Read<List<CocoResultJson>>(resultsJsonPath, "results");
        int n = file.Images.Length;
        var boxes = new List<float>[n];
        var labels = new List<uint>[n];
        var scores = new List<float>[n];
        for (int i = 0; i < n; i++) { boxes[i] = []; labels[i] = []; scores[i] = []; }

        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i] ?? throw new InvalidDataException($"'{resultsJsonPath}': results[{i}] is null.");
            string where = $"'{resultsJsonPath}': results[{i}]";
            if (r.ImageId is not long imageId)
                throw new InvalidDataException($"{where} has no 'image_id'.");
            if (!file.ImageIndexById.TryGetValue(imageId, out int row))
                throw new InvalidDataException($"{where} refers to image id {imageId}, which is not in '{annotationsJsonPath}'. Results must be for images of the ground truth (pycocotools refuses them too).");
            if (r.CategoryId is not long categoryId)
                throw new InvalidDataException($"{where} has no 'category_id'.");
            if (!file.ClassIndexByCategoryId.TryGetValue(categoryId, out int classIndex))
                throw new InvalidDataException($"{where} has category id {categoryId}, which is not in the 'categories' of '{annotationsJsonPath}'.");
            if (r.Bbox is not { Length: 4 } bb || !bb.All(double.IsFinite))
                throw new InvalidDataException($"{where} needs a 'bbox' of 4 numbers [x, y, width, height], but has {(r.Bbox == null ? "none" : CocoInstancesReader.Show(r.Bbox))}.");
            if (r.Score is not double score || !double.IsFinite(score))
                throw new InvalidDataException($"{where} needs a finite 'score', but has {(r.Score?.ToString() ?? "none")}.");
            boxes[row].AddRange([(float)bb[0], (float)bb[1], (float)(bb[0] + bb[2]), (float)(bb[1] + bb[3])]);
            labels[row].Add((uint)(classIndex + 1));
            scores[row].Add((float)score);
        }

        var rows = new Row[n];
        for (int i = 0; i < n; i++)
            rows[i] = new Row { ImageId = file.Images[i].Id, PredictedBoxes = boxes[i].ToArray(), PredictedLabels = labels[i].ToArray(), Scores = scores[i].ToArray() };
        return catalog.LoadFromEnumerable(rows, SchemaFor(file.ClassNames));
    }

    private static SchemaDefinition SchemaFor(string[] classNames)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.ImageId)].ColumnName = CocoColumns.ImageId;
        schema[nameof(Row.PredictedBoxes)].ColumnType = new VectorDataViewType(NumberDataViewType.Single);
        schema[nameof(Row.Scores)].ColumnType = new VectorDataViewType(NumberDataViewType.Single);
        var labels = schema[nameof(Row.PredictedLabels)];
        labels.ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), classNames.Length));
        var names = new VBuffer<ReadOnlyMemory<char>>(classNames.Length, classNames.Select(c => c.AsMemory()).ToArray());
        labels.AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classNames.Length));
        return schema;
    }
}
