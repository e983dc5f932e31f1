using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Evaluation;

namespace MLNetExtensions.Bench;

/// <summary>
/// Detection evaluation (VOC07 + VOC + COCO in one call) on the COCO val2014-100 known-answer files replicated to
/// 5,000 images (COCO val2017's size), and segmentation evaluation of 200 masks of 500×375; each against the
/// baseline of only reading the same IDataView columns with a cursor, the floor for any evaluator of an IDataView.
/// </summary>
public sealed class EvaluationBenchmark : IBenchmark
{
    private const int Copies = 50;

    public string Name => "evaluation";
    public string Description => "detection (VOC+COCO) and segmentation evaluation throughput vs reading the same columns";

    public void Run(TextWriter output)
    {
        var ml = new MLContext(1);
        string folder = FindTestData("coco-val2014-100");
        string annotations = Path.Combine(folder, "instances_val2014_100.json");
        string results = Path.Combine(folder, "instances_val2014_fakebbox100_results.json");

        double loadS = Time(() => ml.Data.JoinOnImageId(ml.Data.LoadFromCocoJson(annotations), ml.Data.LoadFromCocoResultsJson(results, annotations)));
        var joined = ml.Data.JoinOnImageId(ml.Data.LoadFromCocoJson(annotations), ml.Data.LoadFromCocoResultsJson(results, annotations));
        var options = new DetectionEvaluatorOptions();
        var (classNames, images) = DetectionEvaluationData.Read(joined, options);
        var big = Replicate(ml, classNames, images, Copies);
        int n = images.Count * Copies;

        var check = ml.Detection().Evaluate(big);
        double readS = Time(() => DetectionEvaluationData.Read(big, options));
        double evalS = Time(() => ml.Detection().Evaluate(big));
        var (_, read) = DetectionEvaluationData.Read(big, options);
        double vocS = Time(() => VocEvaluation.Evaluate(read, classNames.Length, 0.5));
        double cocoS = Time(() => CocoEvaluation.Evaluate(read, classNames.Length));
        int gts = read.Sum(i => i.GtClasses.Length), dts = read.Sum(i => i.DtClasses.Length);
        output.WriteLine($"COCO val2014-100 files: load + join {loadS * 1e3:F1} ms (100 images, 839 boxes, 734 detections)");
        output.WriteLine($"Detection evaluation, {n} images, {gts} boxes, {dts} detections, 80 classes (COCO AP {check.Coco.AveragePrecision:F4}):");
        output.WriteLine($"  Evaluate (VOC07 + VOC + COCO) {n / evalS,12:N0} images/s  ({evalS * 1e3:F1} ms)");
        output.WriteLine($"    of which VOC               {n / vocS,12:N0} images/s  ({vocS * 1e3:F1} ms)");
        output.WriteLine($"    of which COCO              {n / cocoS,12:N0} images/s  ({cocoS * 1e3:F1} ms)");
        output.WriteLine($"  baseline: read the columns   {n / readS,12:N0} images/s  ({readS * 1e3:F1} ms)");
        output.WriteLine($"  ratio Evaluate / read        {evalS / readS,12:F1}x the time");

        const int masks = 200, w = 500, h = 375;
        var segData = Masks(ml, masks, w, h, classes: 21);
        var segOptions = new SegmentationEvaluatorOptions { GroundTruthMaskColumnName = "Truth", NumberOfClasses = 21 };
        double segS = Time(() => ml.Segmentation().Evaluate(segData, segOptions));
        double segReadS = Time(() => ReadMasks(segData));
        double mpx = (double)masks * w * h / 1e6;
        output.WriteLine($"Segmentation evaluation, {masks} masks of {w}x{h}, 21 classes, ~5% ignored:");
        output.WriteLine($"  Evaluate                     {mpx / segS,12:F1} Mpixel/s  ({segS * 1e3:F1} ms)");
        output.WriteLine($"  baseline: read the columns   {mpx / segReadS,12:F1} Mpixel/s  ({segReadS * 1e3:F1} ms)");
        output.WriteLine($"  ratio Evaluate / read        {segS / segReadS,12:F1}x the time");
    }

    private sealed class Row
    {
        public long ImageId;
        public float[] Boxes = [];
        public uint[] Labels = [];
        public bool[] IsCrowd = [];
        public float[] Areas = [];
        public float[] PredictedBoxes = [];
        public uint[] PredictedLabels = [];
        public float[] Scores = [];
    }

    private static IDataView Replicate(MLContext ml, string[] classNames, List<EvaluationImage> images, int copies)
    {
        var rows = new List<Row>();
        for (int c = 0; c < copies; c++)
            foreach (var im in images)
                rows.Add(new Row
                {
                    ImageId = im.ImageId!.Value + c * 1_000_000L,
                    Boxes = im.GtBoxes, Labels = im.GtClasses.Select(k => (uint)k + 1).ToArray(), IsCrowd = im.GtCrowd,
                    Areas = im.GtAreas ?? [], PredictedBoxes = im.DtBoxes,
                    PredictedLabels = im.DtClasses.Select(k => (uint)k + 1).ToArray(), Scores = im.DtScores,
                });
        var schema = SchemaDefinition.Create(typeof(Row));
        foreach (var name in new[] { nameof(Row.Boxes), nameof(Row.Areas), nameof(Row.PredictedBoxes), nameof(Row.Scores) })
            schema[name].ColumnType = new VectorDataViewType(NumberDataViewType.Single);
        var names = new VBuffer<ReadOnlyMemory<char>>(classNames.Length, classNames.Select(s => s.AsMemory()).ToArray());
        foreach (var name in new[] { nameof(Row.Labels), nameof(Row.PredictedLabels) })
        {
            schema[name].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), classNames.Length));
            schema[name].AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classNames.Length));
        }
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    private sealed class MaskRow
    {
        [VectorType] public byte[] Truth = [];
        [VectorType] public byte[] PredictedMask = [];
    }

    /// <summary>Blocky class maps with ~5% ignore pixels; predictions agree with ~80% of the valid pixels.</summary>
    private static IDataView Masks(MLContext ml, int count, int w, int h, int classes)
    {
        var random = new Random(7);
        var rows = new List<MaskRow>();
        for (int i = 0; i < count; i++)
        {
            var truth = new byte[w * h];
            var pred = new byte[w * h];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int p = y * w + x;
                    truth[p] = (byte)((x / 50 + y / 50 + i) % classes);
                    if (random.NextDouble() < 0.05) truth[p] = 255;
                    pred[p] = random.NextDouble() < 0.8 ? (byte)(truth[p] == 255 ? 0 : truth[p]) : (byte)random.Next(classes);
                }
            rows.Add(new MaskRow { Truth = truth, PredictedMask = pred });
        }
        return ml.Data.LoadFromEnumerable(rows);
    }

    private static long ReadMasks(IDataView data)
    {
        long sum = 0;
        using var cursor = data.GetRowCursor(data.Schema);
        var a = cursor.GetGetter<VBuffer<byte>>(data.Schema["Truth"]);
        var b = cursor.GetGetter<VBuffer<byte>>(data.Schema["PredictedMask"]);
        VBuffer<byte> va = default, vb = default;
        while (cursor.MoveNext())
        {
            a(ref va); b(ref vb);
            foreach (byte x in va.GetValues()) sum += x; // touch every pixel once, as any evaluator must
            foreach (byte x in vb.GetValues()) sum += x;
        }
        return sum;
    }

    private static string FindTestData(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "MLNetExtensions.Tests", "TestData", name);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/MLNetExtensions.Tests/TestData/{name} not found above {AppContext.BaseDirectory}; run from the repository.");
    }

    /// <summary>Median seconds of one call, after a warm-up, over at least 3 runs or 1 s.</summary>
    private static double Time(Action action)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < 1 && times.Count < 50))
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
