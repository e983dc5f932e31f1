namespace MLNetExtensions.Evaluation;

/// <summary>
/// Average precision as the Pascal VOC devkit's <c>voc_eval.py</c> computes it, per class: detections of the class
/// from all images ranked by score (highest first; equal scores keep image order, then detection order), each
/// matched to the ground-truth box of its image it overlaps most, with IoU from inclusive pixel coordinates
/// (widths are <c>xmax - xmin + 1</c>). A hit (<c>IoU &gt; threshold</c>) on a difficult box counts as nothing,
/// on a box already taken as a false positive (duplicate), otherwise as a true positive; a miss is a false positive.
/// Difficult boxes do not count as positives.
/// </summary>
internal static class VocEvaluation
{
    /// <summary>np.finfo(np.float64).eps, voc_eval's guard against 0/0.</summary>
    private const double NumpyEps = 2.220446049250313e-16;

    /// <summary>Per class: (11-point AP of VOC2007, all-point AP of VOC2010+). NaN for a class with no
    /// non-difficult ground truth (voc_eval divides by zero there).</summary>
    public static (double[] Ap07, double[] Ap) Evaluate(IReadOnlyList<EvaluationImage> images, int classCount, double iouThreshold)
    {
        var (ap07, ap, _) = EvaluateWithCurves(images, classCount, iouThreshold, null);
        return (ap07, ap);
    }

    /// <summary><see cref="Evaluate"/> and, per class, the precision–recall curve the APs are computed from.</summary>
    public static (double[] Ap07, double[] Ap, PrecisionRecallCurve[] Curves) EvaluateWithCurves(IReadOnlyList<EvaluationImage> images, int classCount,
        double iouThreshold, string[]? classNames)
    {
        var ap07 = new double[classCount];
        var ap = new double[classCount];
        var curves = new PrecisionRecallCurve[classCount];
        for (int c = 0; c < classCount; c++)
        {
            var (recall, precision, scores, positives) = RankedRecallPrecision(images, c, iouThreshold);
            if (positives == 0) ap07[c] = ap[c] = double.NaN;
            else
            {
                ap07[c] = ElevenPointAp(recall, precision);
                ap[c] = AllPointAp(recall, precision);
            }
            curves[c] = new PrecisionRecallCurve(classNames?[c] ?? c.ToString(System.Globalization.CultureInfo.InvariantCulture),
                iouThreshold, positives, recall, precision, scores, ap[c]);
        }
        return (ap07, ap, curves);
    }

    /// <summary>Recall and precision after each detection of class <paramref name="c"/> in score order, the scores in
    /// that order, and the number of non-difficult ground-truth boxes.</summary>
    internal static (double[] Recall, double[] Precision, float[] Scores, int Positives) RankedRecallPrecision(IReadOnlyList<EvaluationImage> images, int c, double iouThreshold)
    {
        int positives = 0;
        var gtOfImage = new List<int>[images.Count];
        var taken = new bool[images.Count][];
        var detections = new List<(float Score, int Image, int Index)>();
        for (int i = 0; i < images.Count; i++)
        {
            var im = images[i];
            gtOfImage[i] = [];
            for (int g = 0; g < im.GtClasses.Length; g++)
                if (im.GtClasses[g] == c)
                {
                    gtOfImage[i].Add(g);
                    if (!im.GtDifficult[g]) positives++;
                }
            taken[i] = new bool[gtOfImage[i].Count];
            for (int d = 0; d < im.DtClasses.Length; d++)
                if (im.DtClasses[d] == c)
                    detections.Add((im.DtScores[d], i, d));
        }
        // OrderByDescending is stable: equal scores stay in image order, then detection order.
        var ranked = detections.OrderByDescending(x => x.Score).ToArray();

        var recall = new double[ranked.Length];
        var precision = new double[ranked.Length];
        double tp = 0, fp = 0;
        for (int k = 0; k < ranked.Length; k++)
        {
            var (_, i, d) = ranked[k];
            var im = images[i];
            double ovmax = double.NegativeInfinity;
            int jmax = -1;
            for (int j = 0; j < gtOfImage[i].Count; j++)
            {
                double o = IouPlusOne(im.DtBoxes, d, im.GtBoxes, gtOfImage[i][j]);
                if (o > ovmax) { ovmax = o; jmax = j; } // first maximum, as np.argmax
            }
            if (ovmax > iouThreshold)
            {
                if (!im.GtDifficult[gtOfImage[i][jmax]])
                {
                    if (!taken[i][jmax]) { tp++; taken[i][jmax] = true; }
                    else fp++;
                }
            }
            else fp++;
            recall[k] = tp / positives;
            precision[k] = tp / Math.Max(tp + fp, NumpyEps);
        }
        return (recall, precision, ranked.Select(r => r.Score).ToArray(), positives);
    }

    /// <summary>voc_eval's IoU: boxes as inclusive pixel ranges, so each side is one pixel longer.</summary>
    internal static double IouPlusOne(float[] a, int i, float[] b, int j)
    {
        double ax0 = a[4 * i], ay0 = a[4 * i + 1], ax1 = a[4 * i + 2], ay1 = a[4 * i + 3];
        double bx0 = b[4 * j], by0 = b[4 * j + 1], bx1 = b[4 * j + 2], by1 = b[4 * j + 3];
        double iw = Math.Max(Math.Min(ax1, bx1) - Math.Max(ax0, bx0) + 1.0, 0.0);
        double ih = Math.Max(Math.Min(ay1, by1) - Math.Max(ay0, by0) + 1.0, 0.0);
        double inter = iw * ih;
        double union = (ax1 - ax0 + 1.0) * (ay1 - ay0 + 1.0) + (bx1 - bx0 + 1.0) * (by1 - by0 + 1.0) - inter;
        return inter / union;
    }

    /// <summary>VOC2007's 11-point AP: the mean over t = 0, 0.1, ..., 1 of the best precision at recall ≥ t
    /// (0 where recall never reaches t). The thresholds are <c>i * 0.1</c> in doubles, as numpy's
    /// <c>arange(0, 1.1, 0.1)</c> makes them (0.30000000000000004, not 0.3).</summary>
    internal static double ElevenPointAp(double[] recall, double[] precision)
    {
        double ap = 0;
        for (int i = 0; i < 11; i++)
        {
            double t = i * 0.1, p = 0;
            for (int k = 0; k < recall.Length; k++)
                if (recall[k] >= t && precision[k] > p) p = precision[k];
            ap += p / 11.0;
        }
        return ap;
    }

    /// <summary>VOC2010+'s all-point AP: the area under the precision envelope (precision made non-increasing
    /// from the right), summed where recall changes, with recall padded by 0 and 1 and precision by 0 and 0.</summary>
    internal static double AllPointAp(double[] recall, double[] precision)
    {
        int n = recall.Length;
        var mrec = new double[n + 2];
        var mpre = new double[n + 2];
        mrec[n + 1] = 1.0;
        recall.CopyTo(mrec, 1);
        precision.CopyTo(mpre, 1);
        for (int i = n + 1; i > 0; i--)
            mpre[i - 1] = Math.Max(mpre[i - 1], mpre[i]);
        double ap = 0;
        for (int i = 0; i < n + 1; i++)
            if (mrec[i + 1] != mrec[i])
                ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
        return ap;
    }
}
