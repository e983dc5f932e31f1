using System.Diagnostics;
using MLNetExtensions.Boxes;
using MLNetExtensions.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using TorchSharp;

namespace MLNetExtensions.Bench;

/// <summary>
/// NMS on 10,000 boxes and the pairwise IoU matrix, plain C# against baselines run here: a naive NMS (LINQ sort,
/// <see cref="BoundingBox"/> list, areas recomputed, every kept box scanning all later ones) and, for IoU, a naive
/// scalar loop into a 2-D array and TorchSharp's <see cref="BoxIou"/> on the CPU.
/// </summary>
public sealed class BoxOpsBenchmark : IBenchmark
{
    private const int NmsBoxes = 10_000;
    private const float IouThreshold = 0.5f;

    public string Name => "boxops";
    public string Description => "NMS of 10,000 boxes (boxes/s) and pairwise IoU (pairs/s), C# vs naive C# and TorchSharp";

    public void Run(TextWriter output)
    {
        var random = new Random(1234);
        foreach (var (label, boxes) in new[] { ("clustered (200 objects)", Clustered(random, NmsBoxes, 200)), ("uniform", Uniform(random, NmsBoxes)) })
        {
            var scores = Enumerable.Range(0, NmsBoxes).Select(_ => random.NextSingle()).ToArray();
            var classes = Enumerable.Range(0, NmsBoxes).Select(_ => random.Next(20)).ToArray();
            var list = BoxOps.ToBoxes(boxes).ToList();
            int[] fast = NonMaxSuppression.Apply(boxes, scores, IouThreshold);
            int[] naive = NaiveNms(list, scores, IouThreshold);
            if (!fast.SequenceEqual(naive)) throw new InvalidOperationException("NMS and its naive baseline disagree.");

            double fastS = Time(() => NonMaxSuppression.Apply(boxes, scores, IouThreshold));
            double naiveS = Time(() => NaiveNms(list, scores, IouThreshold));
            double classAwareS = Time(() => NonMaxSuppression.ApplyClassAware(boxes, scores, classes, IouThreshold));
            output.WriteLine($"NMS {label}, {NmsBoxes} boxes, {fast.Length} kept:");
            output.WriteLine($"  C# NonMaxSuppression.Apply   {NmsBoxes / fastS,14:N0} boxes/s  ({fastS * 1e3:F2} ms)");
            output.WriteLine($"  naive baseline               {NmsBoxes / naiveS,14:N0} boxes/s  ({naiveS * 1e3:F2} ms)");
            output.WriteLine($"  ratio C# / naive             {naiveS / fastS,14:F1}x");
            output.WriteLine($"  C# ApplyClassAware, 20 classes {NmsBoxes / classAwareS,12:N0} boxes/s  ({classAwareS * 1e3:F2} ms)");
        }

        const int n = 1000, m = 2000;
        var a = Uniform(random, n);
        var b = Uniform(random, m);
        var iou = new float[n * m];
        double pairs = (double)n * m;
        double csharpS = Time(() => BoxOps.PairwiseIou(a, b, iou));
        var listA = BoxOps.ToBoxes(a);
        var listB = BoxOps.ToBoxes(b);
        double naiveIouS = Time(() => NaiveIou(listA, listB));
        TorchRuntime.EnsureLoaded();
        using var ta = torch.tensor(a).view(-1, 4);
        using var tb = torch.tensor(b).view(-1, 4);
        double torchS = Time(() => { using var r = BoxIou.Pairwise(ta, tb); });
        output.WriteLine($"Pairwise IoU {n} x {m} (torch threads: {torch.get_num_threads()}):");
        output.WriteLine($"  C# BoxOps.PairwiseIou        {pairs / csharpS,14:N0} pairs/s  ({csharpS * 1e3:F2} ms)");
        output.WriteLine($"  naive scalar loop            {pairs / naiveIouS,14:N0} pairs/s  ({naiveIouS * 1e3:F2} ms)");
        output.WriteLine($"  TorchSharp BoxIou (CPU)      {pairs / torchS,14:N0} pairs/s  ({torchS * 1e3:F2} ms)");
        output.WriteLine($"  ratio C# / naive             {naiveIouS / csharpS,14:F1}x");
        output.WriteLine($"  ratio C# / TorchSharp        {torchS / csharpS,14:F1}x");
    }

    /// <summary>Median seconds of one call, after a warm-up, over at least 5 runs or 1 s.</summary>
    private static double Time(Action action)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < 1 && times.Count < 200))
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Detector-like output: jittered boxes around a few objects.</summary>
    internal static float[] Clustered(Random random, int count, int objects)
    {
        var centers = Enumerable.Range(0, objects).Select(_ => (X: random.NextSingle() * 1000, Y: random.NextSingle() * 1000, W: 20 + random.NextSingle() * 150, H: 20 + random.NextSingle() * 150)).ToArray();
        var boxes = new float[count * 4];
        for (int i = 0; i < count; i++)
        {
            var c = centers[random.Next(objects)];
            float w = c.W * (0.7f + 0.6f * random.NextSingle()), h = c.H * (0.7f + 0.6f * random.NextSingle());
            float x = c.X + (random.NextSingle() - 0.5f) * 0.4f * c.W, y = c.Y + (random.NextSingle() - 0.5f) * 0.4f * c.H;
            boxes[4 * i] = x - w / 2; boxes[4 * i + 1] = y - h / 2; boxes[4 * i + 2] = x + w / 2; boxes[4 * i + 3] = y + h / 2;
        }
        return boxes;
    }

    internal static float[] Uniform(Random random, int count)
    {
        var boxes = new float[count * 4];
        for (int i = 0; i < count; i++)
        {
            float x = random.NextSingle() * 1000, y = random.NextSingle() * 1000;
            boxes[4 * i] = x; boxes[4 * i + 1] = y;
            boxes[4 * i + 2] = x + 10 + random.NextSingle() * 100; boxes[4 * i + 3] = y + 10 + random.NextSingle() * 100;
        }
        return boxes;
    }

    /// <summary>The textbook version: sort with LINQ, then each kept box computes its IoU with every later box.</summary>
    private static int[] NaiveNms(List<BoundingBox> boxes, float[] scores, float threshold)
    {
        var order = Enumerable.Range(0, boxes.Count).OrderByDescending(i => scores[i]).ThenBy(i => i).ToList();
        var suppressed = new bool[boxes.Count];
        var keep = new List<int>();
        for (int p = 0; p < order.Count; p++)
        {
            int i = order[p];
            if (suppressed[i]) continue;
            keep.Add(i);
            for (int q = p + 1; q < order.Count; q++)
            {
                int j = order[q];
                if (!suppressed[j] && NaivePairIou(boxes[i], boxes[j]) > threshold) suppressed[j] = true;
            }
        }
        return keep.ToArray();
    }

    private static float[,] NaiveIou(BoundingBox[] a, BoundingBox[] b)
    {
        var result = new float[a.Length, b.Length];
        for (int i = 0; i < a.Length; i++)
            for (int j = 0; j < b.Length; j++)
                result[i, j] = NaivePairIou(a[i], b[j]);
        return result;
    }

    private static float NaivePairIou(BoundingBox a, BoundingBox b)
    {
        float inter = Math.Max(0, Math.Min(a.XMax, b.XMax) - Math.Max(a.XMin, b.XMin)) * Math.Max(0, Math.Min(a.YMax, b.YMax) - Math.Max(a.YMin, b.YMin));
        float union = a.Area + b.Area - inter;
        return union > 0 ? inter / union : 0;
    }
}
