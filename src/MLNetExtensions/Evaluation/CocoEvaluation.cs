namespace MLNetExtensions.Evaluation;

/// <summary>
/// COCO box evaluation as pycocotools' <c>COCOeval</c> (iouType <c>bbox</c>, default parameters) does it, step for
/// step: <see cref="EvaluateImage"/> is <c>evaluateImg</c>, <see cref="Accumulate"/> is <c>accumulate</c> and
/// <see cref="Summarize"/> is <c>summarize</c>. Where the order of equal values decides a result, the same stable
/// orders are used (numpy's mergesort): ground truth with ignored boxes last, detections by score, images by
/// ascending id. No +1 in box sizes.
/// </summary>
internal static class CocoEvaluation
{
    /// <summary>0.50, 0.55, ..., 0.95, computed as np.linspace(.5, .95, 10) does (0.8999999999999999, not 0.9).</summary>
    public static readonly double[] IouThresholds = Linspace(0.5, 0.95, 10);

    /// <summary>0, 0.01, ..., 1 as np.linspace(0, 1, 101): i * 0.01 in doubles.</summary>
    public static readonly double[] RecallThresholds = Linspace(0.0, 1.0, 101);

    /// <summary>all, small, medium, large: areas in [lo, hi], both ends included, as pycocotools' areaRng.</summary>
    public static readonly (double Lo, double Hi)[] AreaRanges = [(0, 1e10), (0, 32 * 32), (32 * 32, 96 * 96), (96 * 96, 1e10)];

    public static readonly string[] AreaNames = ["all", "small", "medium", "large"];

    /// <summary>The detections per image each recall/precision figure may use.</summary>
    public static readonly int[] MaxDetections = [1, 10, 100];

    /// <summary>np.spacing(1): pycocotools' guard against 0/0 in precision.</summary>
    private const double NumpySpacing1 = 2.220446049250313e-16;

    /// <summary>evaluateImg's output for one image, class and area range.</summary>
    internal sealed class ImageResult
    {
        /// <summary>(D) scores, highest first, at most the largest max-detections.</summary>
        public required double[] Scores { get; init; }
        /// <summary>(T, D): detection matched a ground-truth box at threshold t.</summary>
        public required bool[,] Matched { get; init; }
        /// <summary>(T, D): detection is ignored at threshold t (matched a crowd or out-of-range box, or unmatched and out of range).</summary>
        public required bool[,] Ignored { get; init; }
        /// <summary>Ground-truth boxes that count (not crowd, area in range).</summary>
        public required int CountedGroundTruth { get; init; }
    }

    /// <summary>Precision (T, R, K, A, M) and recall (T, K, A, M), -1 where a class has no counted ground truth.</summary>
    internal sealed class Accumulation
    {
        public Accumulation(int classCount)
        {
            ClassCount = classCount;
            int T = IouThresholds.Length, R = RecallThresholds.Length, A = AreaRanges.Length, M = MaxDetections.Length;
            Precision = new double[T, R, classCount, A, M];
            Recall = new double[T, classCount, A, M];
            for (int t = 0; t < T; t++)
                for (int k = 0; k < classCount; k++)
                    for (int a = 0; a < A; a++)
                        for (int m = 0; m < M; m++)
                        {
                            Recall[t, k, a, m] = -1;
                            for (int r = 0; r < R; r++) Precision[t, r, k, a, m] = -1;
                        }
        }

        public int ClassCount { get; }
        public double[,,,,] Precision { get; }
        public double[,,,] Recall { get; }
    }

    /// <summary>One image's boxes and detections of one class, with their IoUs (pycocotools' computeIoU):
    /// ground truth in row order, detections by score (stable) and cut to the largest max-detections.</summary>
    internal sealed class ImageClass
    {
        public required EvaluationImage Image { get; init; }
        public required int[] Gt { get; init; }
        public required int[] Dt { get; init; }
        /// <summary>(D, G) IoU of detection <c>Dt[d]</c> with box <c>Gt[g]</c>.</summary>
        public required double[,] Ious { get; init; }

        public static ImageClass Create(EvaluationImage image, List<int> gt, List<int> dt, int maxDetections)
        {
            // Stable sort, where pycocotools uses np.argsort(-scores, kind='mergesort').
            var sorted = dt.OrderByDescending(d => image.DtScores[d]).Take(maxDetections).ToArray();
            var ious = new double[sorted.Length, gt.Count];
            for (int d = 0; d < sorted.Length; d++)
                for (int g = 0; g < gt.Count; g++)
                    ious[d, g] = Iou(image.DtBoxes, sorted[d], image.GtBoxes, gt[g], image.GtCrowd[gt[g]]);
            return new ImageClass { Image = image, Gt = gt.ToArray(), Dt = sorted, Ious = ious };
        }
    }

    public static Accumulation Evaluate(IReadOnlyList<EvaluationImage> images, int classCount)
    {
        // Per class, the images that have its boxes or detections, in image order; the others give pycocotools None.
        var perClass = new List<ImageClass>[classCount];
        for (int k = 0; k < classCount; k++) perClass[k] = [];
        var gtOf = new Dictionary<int, List<int>>();
        var dtOf = new Dictionary<int, List<int>>();
        foreach (var image in images)
        {
            gtOf.Clear();
            dtOf.Clear();
            for (int g = 0; g < image.GtClasses.Length; g++)
                (gtOf.TryGetValue(image.GtClasses[g], out var l) ? l : gtOf[image.GtClasses[g]] = []).Add(g);
            for (int d = 0; d < image.DtClasses.Length; d++)
                (dtOf.TryGetValue(image.DtClasses[d], out var l) ? l : dtOf[image.DtClasses[d]] = []).Add(d);
            foreach (int k in gtOf.Keys.Union(dtOf.Keys).Order())
                perClass[k].Add(ImageClass.Create(image, gtOf.GetValueOrDefault(k) ?? [], dtOf.GetValueOrDefault(k) ?? [], MaxDetections[^1]));
        }

        var acc = new Accumulation(classCount);
        var results = new List<ImageResult>(images.Count);
        for (int k = 0; k < classCount; k++)
            for (int a = 0; a < AreaRanges.Length; a++)
            {
                results.Clear();
                foreach (var ic in perClass[k])
                    results.Add(EvaluateImage(ic, AreaRanges[a]));
                Accumulate(results, acc, k, a);
            }
        return acc;
    }

    /// <summary>Matches one image's detections of one class to its ground truth at every IoU threshold, for one
    /// area range (pycocotools' evaluateImg).</summary>
    internal static ImageResult EvaluateImage(ImageClass ic, (double Lo, double Hi) range)
    {
        var image = ic.Image;
        bool OutOfRange(double area) => area < range.Lo || area > range.Hi;
        bool Ignored(int g) => image.GtCrowd[g] || OutOfRange(image.GtAreas?[g] ?? BoxArea(image.GtBoxes, g));
        // Ground truth with ignored boxes last, stable (np.argsort(kind='mergesort')); order[j] indexes ic.Gt.
        var order = Enumerable.Range(0, ic.Gt.Length).OrderBy(j => Ignored(ic.Gt[j]) ? 1 : 0).ToArray();
        var gtIgnore = order.Select(j => Ignored(ic.Gt[j])).ToArray();
        var crowd = order.Select(j => image.GtCrowd[ic.Gt[j]]).ToArray();
        var dt = ic.Dt;

        int T = IouThresholds.Length, G = order.Length, D = dt.Length;
        var ious = new double[D, G];
        for (int d = 0; d < D; d++)
            for (int g = 0; g < G; g++)
                ious[d, g] = ic.Ious[d, order[g]];

        var matched = new bool[T, D];
        var ignored = new bool[T, D];
        if (G > 0 && D > 0)
        {
            for (int t = 0; t < T; t++)
            {
                var gtMatched = new bool[G];
                for (int d = 0; d < D; d++)
                {
                    double best = Math.Min(IouThresholds[t], 1 - 1e-10);
                    int m = -1;
                    for (int g = 0; g < G; g++)
                    {
                        if (gtMatched[g] && !crowd[g]) continue;          // taken, and only crowds can be taken twice
                        if (m > -1 && !gtIgnore[m] && gtIgnore[g]) break; // a counted match beats any ignored box after it
                        if (ious[d, g] < best) continue;
                        best = ious[d, g];                                 // ties go to the later box, as in pycocotools
                        m = g;
                    }
                    if (m == -1) continue;
                    ignored[t, d] = gtIgnore[m];
                    matched[t, d] = true;
                    gtMatched[m] = true;
                }
            }
        }
        for (int d = 0; d < D; d++)
            if (OutOfRange(BoxArea(image.DtBoxes, dt[d])))
                for (int t = 0; t < T; t++)
                    if (!matched[t, d]) ignored[t, d] = true;

        return new ImageResult
        {
            Scores = dt.Select(d => (double)image.DtScores[d]).ToArray(),
            Matched = matched,
            Ignored = ignored,
            CountedGroundTruth = gtIgnore.Count(ig => !ig),
        };
    }

    /// <summary>Precision at the 101 recall thresholds and final recall of class <paramref name="k"/>, area range
    /// <paramref name="a"/>, for each max-detections, from the images' results in image order.</summary>
    internal static void Accumulate(IReadOnlyList<ImageResult> results, Accumulation acc, int k, int a)
    {
        if (results.Count == 0) return;
        int counted = results.Sum(r => r.CountedGroundTruth);
        if (counted == 0) return;
        int T = IouThresholds.Length, R = RecallThresholds.Length;
        for (int m = 0; m < MaxDetections.Length; m++)
        {
            int maxDet = MaxDetections[m];
            var entries = new List<(double Score, ImageResult Result, int Index)>();
            foreach (var r in results)
                for (int d = 0; d < Math.Min(maxDet, r.Scores.Length); d++)
                    entries.Add((r.Scores[d], r, d));
            var ranked = entries.OrderByDescending(e => e.Score).ToArray(); // stable, as mergesort
            int nd = ranked.Length;
            var rc = new double[nd];
            var pr = new double[nd];
            for (int t = 0; t < T; t++)
            {
                double tp = 0, fp = 0;
                for (int i = 0; i < nd; i++)
                {
                    var (_, r, d) = ranked[i];
                    if (!r.Ignored[t, d])
                    {
                        if (r.Matched[t, d]) tp++;
                        else fp++;
                    }
                    rc[i] = tp / counted;
                    pr[i] = tp / (fp + tp + NumpySpacing1);
                }
                acc.Recall[t, k, a, m] = nd > 0 ? rc[nd - 1] : 0;
                for (int i = nd - 1; i > 0; i--)
                    if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
                // np.searchsorted(rc, recThrs, side='left'); thresholds past the last recall keep precision 0.
                int idx = 0;
                for (int ri = 0; ri < R; ri++)
                {
                    while (idx < nd && rc[idx] < RecallThresholds[ri]) idx++;
                    acc.Precision[t, ri, k, a, m] = idx < nd ? pr[idx] : 0;
                }
            }
        }
    }

    /// <summary>pycocotools' twelve numbers, in its printed order: AP, AP50, AP75, AP small/medium/large,
    /// AR1, AR10, AR100, AR small/medium/large. -1 where nothing counts.</summary>
    public static double[] Summarize(Accumulation acc)
    {
        const int all = 0, small = 1, medium = 2, large = 3, m1 = 0, m10 = 1, m100 = 2;
        return
        [
            MeanPrecision(acc, null, all, m100), MeanPrecision(acc, 0, all, m100), MeanPrecision(acc, 5, all, m100),
            MeanPrecision(acc, null, small, m100), MeanPrecision(acc, null, medium, m100), MeanPrecision(acc, null, large, m100),
            MeanRecall(acc, all, m1), MeanRecall(acc, all, m10), MeanRecall(acc, all, m100),
            MeanRecall(acc, small, m100), MeanRecall(acc, medium, m100), MeanRecall(acc, large, m100),
        ];
    }

    /// <summary>Per class: AP over IoU 0.50:0.95, all areas, 100 detections; -1 for a class without ground truth.</summary>
    public static double[] PerClassAp(Accumulation acc)
        => Enumerable.Range(0, acc.ClassCount).Select(k => MeanPrecision(acc, null, 0, 2, k)).ToArray();

    /// <summary>The mean of precision[t, :, k, a, m] over entries > -1 (all t when <paramref name="t"/> is null,
    /// all k when <paramref name="k"/> is null); -1 when there are none, as summarize() does.</summary>
    private static double MeanPrecision(Accumulation acc, int? t, int a, int m, int? k = null)
    {
        double sum = 0;
        long n = 0;
        for (int ti = t ?? 0; ti < (t + 1 ?? IouThresholds.Length); ti++)
            for (int r = 0; r < RecallThresholds.Length; r++)
                for (int ki = k ?? 0; ki < (k + 1 ?? acc.ClassCount); ki++)
                {
                    double v = acc.Precision[ti, r, ki, a, m];
                    if (v > -1) { sum += v; n++; }
                }
        return n == 0 ? -1 : sum / n;
    }

    private static double MeanRecall(Accumulation acc, int a, int m)
    {
        double sum = 0;
        long n = 0;
        for (int t = 0; t < IouThresholds.Length; t++)
            for (int k = 0; k < acc.ClassCount; k++)
            {
                double v = acc.Recall[t, k, a, m];
                if (v > -1) { sum += v; n++; }
            }
        return n == 0 ? -1 : sum / n;
    }

    /// <summary>maskApi's bbIou on boxes as <c>[x, y, w, h]</c>: intersection over union, or over the detection's
    /// own area when the ground truth is a crowd (a detection inside a crowd region is a full match).</summary>
    internal static double Iou(float[] dt, int d, float[] gt, int g, bool crowd)
    {
        double dx = dt[4 * d], dy = dt[4 * d + 1], dw = dt[4 * d + 2] - dx, dh = dt[4 * d + 3] - dy;
        double gx = gt[4 * g], gy = gt[4 * g + 1], gw = gt[4 * g + 2] - gx, gh = gt[4 * g + 3] - gy;
        double w = Math.Min(dw + dx, gw + gx) - Math.Max(dx, gx);
        if (w <= 0) return 0;
        double h = Math.Min(dh + dy, gh + gy) - Math.Max(dy, gy);
        if (h <= 0) return 0;
        double i = w * h, da = dw * dh, ga = gw * gh;
        return i / (crowd ? da : da + ga - i);
    }

    /// <summary>Box area w × h, as loadRes sets a detection's <c>area</c>.</summary>
    internal static double BoxArea(float[] boxes, int i)
        => ((double)boxes[4 * i + 2] - boxes[4 * i]) * ((double)boxes[4 * i + 3] - boxes[4 * i + 1]);

    /// <summary>np.linspace(start, stop, num): start + i * step, the last one set to stop.</summary>
    private static double[] Linspace(double start, double stop, int num)
    {
        double step = (stop - start) / (num - 1);
        var values = new double[num];
        for (int i = 0; i < num; i++) values[i] = i * step + start;
        values[num - 1] = stop;
        return values;
    }
}
