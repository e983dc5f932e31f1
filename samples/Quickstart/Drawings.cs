using Microsoft.ML;
using MLNetExtensions;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Visualization;

namespace Quickstart;

/// <summary>Reads scored rows and draws them.</summary>
internal static class Drawings
{
    internal sealed record ScoredImage(string ImagePath, List<DrawnBox> Detections, List<DrawnBox> Truth);

    /// <summary>A scored row: the typed prediction, the image path and, on labelled data, the ground truth.</summary>
    private sealed class Row : DetectionPrediction
    {
        public string ImagePath { get; set; } = "";
        public float[] Boxes { get; set; } = [];
        public uint[] Labels { get; set; } = [];
    }

    private sealed class UnlabelledRow : DetectionPrediction
    {
        public string ImagePath { get; set; } = "";
    }

    public static IEnumerable<ScoredImage> Rows(MLContext ml, IDataView scored, IReadOnlyList<string> classNames)
    {
        var visualizer = new DetectionVisualizer(classNames);
        if (scored.Schema.GetColumnOrNull(DetectionColumns.Boxes) == null)
            return ml.Data.CreateEnumerable<UnlabelledRow>(scored, reuseRowObject: false)
                .Select(r => new ScoredImage(r.ImagePath, visualizer.Boxes(r).ToList(), []));
        return ml.Data.CreateEnumerable<Row>(scored, reuseRowObject: false).Select(r => new ScoredImage(r.ImagePath, visualizer.Boxes(r).ToList(),
            Enumerable.Range(0, r.Labels.Length).Select(i => new DrawnBox(r.Boxes[4 * i], r.Boxes[4 * i + 1], r.Boxes[4 * i + 2], r.Boxes[4 * i + 3], (int)r.Labels[i] - 1)).ToList()));
    }

    public static ScoredImage FirstRow(MLContext ml, IDataView scored, IReadOnlyList<string> classNames) => Rows(ml, scored, classNames).First();

    /// <summary>Draws the first <paramref name="count"/> images (detections with score ≥ 0.4) into <paramref name="folder"/>,
    /// and the first eight of them side by side, captioned, into <c>predictions.png</c> next to that folder.</summary>
    public static int Save(MLContext ml, IDataView scored, IReadOnlyList<string> classNames, string folder, int count)
    {
        Directory.CreateDirectory(folder);
        var visualizer = new DetectionVisualizer(classNames, lineWidth: 2, scale: 3);
        var pictures = new List<byte[]>();
        var captions = new List<string>();
        foreach (var row in Rows(ml, scored, classNames).Take(count))
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

    /// <summary>Draws the first 50 selective search regions of the first <paramref name="count"/> images of <paramref name="data"/>
    /// beside the detector's final boxes (score ≥ 0.4) on them, into one picture.</summary>
    public static void SaveRegions(MLContext ml, IDataView data, IDataView scored, IReadOnlyList<string> classNames,
        MLNetExtensions.Detection.Rcnn.SelectiveSearchOptions search, string path, int count)
    {
        var regions = ml.Transforms.SelectiveSearch(new MLNetExtensions.Transforms.SelectiveSearchEstimator.Options
        {
            MaxProposals = 50, Strategy = search.Strategy, MinRegionSize = search.MinRegionSize, MinBoxSize = search.MinBoxSize, Seed = search.Seed,
        }).Fit(data).Transform(ml.Data.TakeRows(data, count));
        var visualizer = new DetectionVisualizer(classNames, lineWidth: 1, scale: 3);
        var pictures = new List<byte[]>();
        var captions = new List<string>();
        var proposals = ml.Data.CreateEnumerable<RegionRow>(regions, reuseRowObject: false).ToList();
        var final = Rows(ml, scored, classNames).Take(count).ToList();
        for (int i = 0; i < Math.Min(proposals.Count, final.Count); i++)
        {
            var p = proposals[i].Proposals;
            var boxes = Enumerable.Range(0, p.Length / 4).Select(k => new DrawnBox(p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3], k % classNames.Count)).ToList();
            pictures.Add(visualizer.Draw(proposals[i].ImagePath, boxes));
            captions.Add($"{Path.GetFileNameWithoutExtension(proposals[i].ImagePath)}: {boxes.Count} selective search regions");
            var shown = final[i].Detections.Where(d => d.Score >= 0.4f).ToList();
            pictures.Add(visualizer.Draw(final[i].ImagePath, shown, final[i].Truth));
            captions.Add($"R-CNN: {shown.Count} detections");
        }
        File.WriteAllBytes(path, ImageGrid.Png(pictures, columns: 2, captions));
    }

    private sealed class RegionRow
    {
        public string ImagePath = "";
        public float[] Proposals = [];
    }
}
