using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Visualization;

namespace Quickstart;

/// <summary>Reads scored rows and draws them.</summary>
internal static class Drawings
{
    internal sealed record ScoredImage(string ImagePath, List<DrawnBox> Detections, List<DrawnBox> Truth);

    public static IEnumerable<ScoredImage> Rows(MLContext ml, IDataView scored)
    {
        var schema = scored.Schema;
        bool hasTruth = schema.GetColumnOrNull(DetectionColumns.Boxes) != null;
        var cols = new List<DataViewSchema.Column> { schema[DetectionColumns.ImagePath], schema[DetectionColumns.PredictedBoxes], schema[DetectionColumns.PredictedLabels], schema[DetectionColumns.Scores] };
        if (hasTruth) { cols.Add(schema[DetectionColumns.Boxes]); cols.Add(schema[DetectionColumns.Labels]); }
        using var cursor = scored.GetRowCursor(cols);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(schema[DetectionColumns.ImagePath]);
        var boxes = cursor.GetGetter<VBuffer<float>>(schema[DetectionColumns.PredictedBoxes]);
        var labels = cursor.GetGetter<VBuffer<uint>>(schema[DetectionColumns.PredictedLabels]);
        var scores = cursor.GetGetter<VBuffer<float>>(schema[DetectionColumns.Scores]);
        var gtBoxes = hasTruth ? cursor.GetGetter<VBuffer<float>>(schema[DetectionColumns.Boxes]) : null;
        var gtLabels = hasTruth ? cursor.GetGetter<VBuffer<uint>>(schema[DetectionColumns.Labels]) : null;
        ReadOnlyMemory<char> p = default; VBuffer<float> b = default, s = default, gb = default; VBuffer<uint> l = default, gl = default;
        while (cursor.MoveNext())
        {
            path(ref p); boxes(ref b); labels(ref l); scores(ref s);
            var bv = b.DenseValues().ToArray(); var lv = l.DenseValues().ToArray(); var sv = s.DenseValues().ToArray();
            var dets = Enumerable.Range(0, lv.Length).Select(i => new DrawnBox(bv[4 * i], bv[4 * i + 1], bv[4 * i + 2], bv[4 * i + 3], (int)lv[i] - 1, sv[i])).ToList();
            var truth = new List<DrawnBox>();
            if (hasTruth)
            {
                gtBoxes!(ref gb); gtLabels!(ref gl);
                var gbv = gb.DenseValues().ToArray(); var glv = gl.DenseValues().ToArray();
                truth = Enumerable.Range(0, glv.Length).Select(i => new DrawnBox(gbv[4 * i], gbv[4 * i + 1], gbv[4 * i + 2], gbv[4 * i + 3], (int)glv[i] - 1)).ToList();
            }
            yield return new ScoredImage(p.ToString(), dets, truth);
        }
    }

    public static ScoredImage FirstRow(MLContext ml, IDataView scored) => Rows(ml, scored).First();

    /// <summary>Draws the first <paramref name="count"/> images (detections with score ≥ 0.4) into <paramref name="folder"/>,
    /// and the first eight of them side by side, captioned, into <c>predictions.png</c> next to that folder.</summary>
    public static int Save(MLContext ml, IDataView scored, IReadOnlyList<string> classNames, string folder, int count)
    {
        Directory.CreateDirectory(folder);
        var visualizer = new DetectionVisualizer(classNames, lineWidth: 2, scale: 3);
        var pictures = new List<byte[]>();
        var captions = new List<string>();
        foreach (var row in Rows(ml, scored).Take(count))
        {
            var shown = row.Detections.Where(d => d.Score >= 0.4f).ToList();
            var png = visualizer.Draw(row.ImagePath, shown, row.Truth);
            File.WriteAllBytes(Path.Combine(folder, Path.GetFileNameWithoutExtension(row.ImagePath) + ".png"), png);
            pictures.Add(png);
            captions.Add($"{Path.GetFileNameWithoutExtension(row.ImagePath)}: {row.Truth.Count} objects, {shown.Count} detections");
        }
        if (pictures.Count > 0)
            File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(folder))!, "predictions.png"),
                ImageGrid.Png(pictures.Take(8).ToList(), columns: 4, captions.Take(8).ToList()));
        return pictures.Count;
    }
}
