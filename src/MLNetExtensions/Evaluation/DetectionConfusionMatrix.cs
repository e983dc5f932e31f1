namespace MLNetExtensions.Evaluation;

/// <summary>
/// Which class the detector gave each ground-truth object, at one IoU and one score threshold, with a background
/// row and column: <c>Counts[t][p]</c> is the number of objects of class <c>t</c> detected as class <c>p</c>;
/// column <see cref="Background"/> holds the objects no detection found (misses), row <see cref="Background"/> the
/// detections that found no object (false alarms); the background cell itself is always 0.
/// </summary>
/// <remarks>
/// <b>Matching</b>, per image: the detections scored at least <see cref="ScoreThreshold"/> are taken from the highest
/// score down (equal scores in detection order); each takes, among the ground-truth boxes of any class not taken yet,
/// the one it overlaps most, if that IoU is above <see cref="IouThreshold"/> (IoU as the VOC metrics compute it, over
/// inclusive pixel boxes; the first box on ties), and is a false alarm otherwise. A pair's cell is
/// <c>[object class, detected class]</c>, on the diagonal when the classes agree. Ground-truth boxes left over are
/// misses. As in the VOC metrics, difficult boxes are matched (a detection on one is no false alarm) but never counted.
/// </remarks>
public sealed class DetectionConfusionMatrix
{
    internal DetectionConfusionMatrix(string[] classNames, double iouThreshold, double scoreThreshold, long[][] counts)
    {
        ClassNames = classNames;
        IouThreshold = iouThreshold;
        ScoreThreshold = scoreThreshold;
        Counts = counts;
    }

    /// <summary>The classes, in key order; index <see cref="Background"/> of <see cref="Counts"/> is the background.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The index of the background row and column: the number of classes.</summary>
    public int Background => ClassNames.Count;

    /// <summary>The IoU a detection had to exceed to find an object.</summary>
    public double IouThreshold { get; }

    /// <summary>Detections scored below this were left out.</summary>
    public double ScoreThreshold { get; }

    /// <summary>(classes + 1) × (classes + 1) counts: rows the ground truth, columns the detections, last the background.</summary>
    public IReadOnlyList<IReadOnlyList<long>> Counts { get; }

    /// <summary>Computes the matrix (see the remarks for the matching rule).</summary>
    internal static DetectionConfusionMatrix Compute(IReadOnlyList<EvaluationImage> images, string[] classNames, double iouThreshold, double scoreThreshold)
    {
        int c = classNames.Length;
        var counts = new long[c + 1][];
        for (int i = 0; i <= c; i++) counts[i] = new long[c + 1];
        foreach (var im in images)
        {
            int g = im.GtClasses.Length;
            var taken = new bool[g];
            var order = Enumerable.Range(0, im.DtClasses.Length).Where(d => im.DtScores[d] >= scoreThreshold)
                .OrderByDescending(d => im.DtScores[d]).ToArray(); // stable: equal scores in detection order
            foreach (int d in order)
            {
                int best = -1;
                double bestIou = double.NegativeInfinity;
                for (int j = 0; j < g; j++)
                {
                    if (taken[j]) continue;
                    double iou = VocEvaluation.IouPlusOne(im.DtBoxes, d, im.GtBoxes, j);
                    if (iou > bestIou) { bestIou = iou; best = j; }
                }
                if (best >= 0 && bestIou > iouThreshold)
                {
                    taken[best] = true;
                    if (!im.GtDifficult[best]) counts[im.GtClasses[best]][im.DtClasses[d]]++;
                }
                else counts[c][im.DtClasses[d]]++;
            }
            for (int j = 0; j < g; j++)
                if (!taken[j] && !im.GtDifficult[j]) counts[im.GtClasses[j]][c]++;
        }
        return new DetectionConfusionMatrix(classNames, iouThreshold, scoreThreshold, counts);
    }
}
