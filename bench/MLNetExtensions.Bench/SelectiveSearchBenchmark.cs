using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Boxes;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Transforms;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Bench;

/// <summary>
/// Selective search through <c>mlContext.Transforms.SelectiveSearch</c> on the built-in test split: recall of the
/// ground-truth boxes at IoU 0.5 by the first 100/300/1000/2000 proposals, for the fast and quality strategies, and the
/// time per 128-px image and per 500×375 image (TestData/SelectiveSearch/coffee-500x375.png). Baselines: as many
/// uniformly random boxes (corners drawn uniformly, seeded) for recall, and one Felzenszwalb segmentation (k = 100) of
/// the same image for time.
/// </summary>
public sealed class SelectiveSearchBenchmark : IBenchmark
{
    private static readonly int[] Budgets = [100, 300, 1000, 2000];
    private const int SmallMinRegion = 16;

    public string Name => "selective-search";
    public string Description => "selective search recall@IoU 0.5 (100–2000 proposals) on the test split, fast and quality; ms per 128 px and 500×375 image";

    private sealed class Row
    {
        public string ImagePath = "";
        public float[] Boxes = [];
        public float[] Proposals = [];
    }

    public void Run(TextWriter output)
    {
        var ml = new MLContext(seed: 1);
        string root = SyntheticShapesDataset.EnsureBuiltIn();
        var test = ml.Data.LoadFromPascalVoc(root, "test", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        test = ml.Data.Cache(test);
        var gt = ml.Data.CreateEnumerable<Row>(test, reuseRowObject: false, ignoreMissingColumns: true).ToArray();
        int objects = gt.Sum(r => r.Boxes.Length / 4);
        output.WriteLine($"test split: {gt.Length} images, {objects} objects");

        var random = new Random(1);
        var uniform = gt.Select(r => RandomBoxes(random, Budgets[^1], 128, 128)).ToArray();
        var baselineRecall = Budgets.ToDictionary(n => n, n => Recall(gt, uniform, n));

        var qualityRecall = new Dictionary<int, double>();
        // The paper's min_size = k, then a fixed small min_size (MinRegionSize) for these small images.
        foreach (var (strategy, minRegion) in new (SelectiveSearchStrategy, int?)[]
            { (SelectiveSearchStrategy.Fast, null), (SelectiveSearchStrategy.Quality, null),
              (SelectiveSearchStrategy.Fast, SmallMinRegion), (SelectiveSearchStrategy.Quality, SmallMinRegion) })
        {
            var estimator = ml.Transforms.SelectiveSearch(new SelectiveSearchEstimator.Options { Strategy = strategy, MinRegionSize = minRegion });
            var watch = Stopwatch.StartNew();
            var scored = ml.Data.CreateEnumerable<Row>(estimator.Fit(test).Transform(test), reuseRowObject: false).ToArray();
            double msPerImage = watch.Elapsed.TotalMilliseconds / scored.Length;
            var proposals = scored.Select(r => r.Proposals).ToArray();
            double mean = proposals.Average(p => p.Length / 4.0);
            output.WriteLine($"  {strategy,-7} min_size {(minRegion == null ? "k" : minRegion.ToString()),-3} {msPerImage,7:F1} ms per 128-px image (decode included), {mean:F0} proposals on average");
            foreach (int n in Budgets)
            {
                double recall = Recall(gt, proposals, n);
                if (strategy == SelectiveSearchStrategy.Quality && minRegion == null) qualityRecall[n] = recall;
                output.WriteLine($"    recall@IoU0.5 with {n,4} proposals: {recall:F3}   ({baselineRecall[n]:F3} for {n} uniformly random boxes, ratio {recall / baselineRecall[n]:F2}x)");
            }
        }

        // One 500×375 image: each strategy against one Felzenszwalb segmentation of the same pixels.
        string coffee = Path.Combine(FindRepositoryRoot(), "tests", "MLNetExtensions.Tests", "TestData", "SelectiveSearch", "coffee-500x375.png");
        var (rgb, height, width) = ReadRgb(coffee);
        double felzenszwalb = MedianSeconds(3, () => FelzenszwalbSegmentation.Segment(rgb, height, width, 3,
            new FelzenszwalbOptions(Scale: 100, Sigma: 0.8, MinSize: 100)));
        output.WriteLine($"  {width}×{height} coffee: one Felzenszwalb segmentation (k = 100) {felzenszwalb * 1e3:F0} ms");
        foreach (var (strategy, runs) in new[] { (SelectiveSearchStrategy.Fast, 3), (SelectiveSearchStrategy.Quality, 1) })
        {
            int count = 0;
            double seconds = MedianSeconds(runs, () => count = SelectiveSearch.Propose(rgb, height, width,
                new SelectiveSearchOptions { Strategy = strategy }).Length / 4);
            output.WriteLine($"    {strategy,-7} {seconds * 1e3,7:F0} ms, {count} proposals ({seconds / felzenszwalb:F1}x one segmentation)");
        }
        output.WriteLine($"quality (min_size k) recall@IoU0.5 with 2000 proposals: {qualityRecall[2000]:F3}");
    }

    /// <summary>Fraction of ground-truth boxes whose best IoU with the first <paramref name="n"/> proposals is ≥ 0.5.</summary>
    private static double Recall(Row[] gt, float[][] proposals, int n)
    {
        int found = 0, total = 0;
        for (int i = 0; i < gt.Length; i++)
        {
            float[] truth = gt[i].Boxes;
            float[] first = proposals[i][..Math.Min(proposals[i].Length, 4 * n)];
            int m = first.Length / 4;
            float[] iou = BoxOps.PairwiseIou(truth, first);
            for (int g = 0; g < truth.Length / 4; g++)
            {
                total++;
                for (int j = 0; j < m; j++)
                    if (iou[g * m + j] >= 0.5f) { found++; break; }
            }
        }
        return (double)found / total;
    }

    private static float[] RandomBoxes(Random random, int n, int width, int height)
    {
        var boxes = new float[4 * n];
        for (int i = 0; i < n; i++)
        {
            float x0 = random.NextSingle() * width, x1 = random.NextSingle() * width;
            float y0 = random.NextSingle() * height, y1 = random.NextSingle() * height;
            (boxes[4 * i], boxes[4 * i + 2]) = (Math.Min(x0, x1), Math.Max(x0, x1));
            (boxes[4 * i + 1], boxes[4 * i + 3]) = (Math.Min(y0, y1), Math.Max(y0, y1));
        }
        return boxes;
    }

    private static (byte[] Rgb, int Height, int Width) ReadRgb(string path)
    {
        using var image = MLImage.CreateFromFile(path);
        var pixels = ImagePixels.Read(image, "selective-search bench", path, 0);
        return (pixels.ToRgb(), pixels.Height, pixels.Width);
    }

    private static double MedianSeconds(int runs, Action action)
    {
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNetExtensions.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("The repository root (with MLNetExtensions.sln) was not found above the bench's folder.");
    }
}
