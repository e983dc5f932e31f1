using Microsoft.ML;

namespace MLNetExtensions.Evaluation;

/// <summary>Detection evaluation on <c>mlContext.Detection()</c>.</summary>
public static class DetectionEvaluationExtensions
{
    /// <summary>
    /// Evaluates scored detection data with the default column names (<see cref="Data.DetectionColumns"/>; COCO's
    /// IsCrowd, Areas and ImageId when present). See <see cref="Evaluate(DetectionCatalog, IDataView, DetectionEvaluatorOptions)"/>.
    /// </summary>
    public static DetectionMetrics Evaluate(this DetectionCatalog catalog, IDataView scored)
        => Evaluate(catalog, scored, new DetectionEvaluatorOptions());

    /// <summary>
    /// Evaluates scored detection data: each row holds an image's ground truth (boxes, labels, optional difficult
    /// and crowd flags and areas) and its detections (boxes, labels, scores).
    /// <list type="bullet">
    /// <item>VOC: AP per class with VOC2007's 11-point and VOC2010+'s all-point interpolation, following the devkit's
    /// <c>voc_eval.py</c> to the letter: IoU over inclusive pixel boxes (+1 in widths and heights), a hit needs
    /// IoU &gt; 0.5, difficult boxes count neither as hit nor miss, a second detection of a box is a false
    /// positive, and all detections are used, whatever their score.</item>
    /// <item>COCO: the twelve figures of pycocotools' <c>COCOeval</c> (bbox) and AP per class, following it to the
    /// letter: IoU without +1, crowd boxes matched by intersection over detection area and any number of times,
    /// with their matches ignored; area ranges by the Areas column when present (COCO's segment area), else by box
    /// area; greedy matching in score order per image and class; at most 1, 10, 100 detections per image;
    /// 101-point interpolated precision; classes without ground truth left out of the means.</item>
    /// <item>Per class the VOC precision–recall curve (<see cref="VocMetrics.PrecisionRecallCurves"/>), and the
    /// confusion matrix with a background row and column (<see cref="DetectionMetrics.ConfusionMatrix"/>) at the VOC IoU
    /// threshold and <see cref="DetectionEvaluatorOptions.ConfusionMatrixScoreThreshold"/>.</item>
    /// </list>
    /// These numbers are not comparable with ML.NET's <c>EvaluateObjectDetection</c>, which matches greedily by IoU
    /// rather than by score, drops detections scored below 0.05 and uses +1 widths for every IoU.
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Detection()</c> catalog.</param>
    /// <param name="scored">The data: ground truth and predictions in the same rows (use
    /// <see cref="Data.Coco.CocoCatalogExtensions.JoinOnImageId"/> to put them there from files).</param>
    /// <param name="options">Column names and the VOC IoU threshold.</param>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type; the message names it.</exception>
    /// <exception cref="InvalidDataException">A row's counts of boxes, labels, flags and scores disagree, a label is
    /// outside the classes, a score is NaN, or two rows share an image id; the message names the row.</exception>
    public static DetectionMetrics Evaluate(this DetectionCatalog catalog, IDataView scored, DetectionEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(scored);
        ArgumentNullException.ThrowIfNull(options);
        var (classNames, images) = DetectionEvaluationData.Read(scored, options);
        int classCount = classNames.Length;

        var (ap07, ap, curves) = VocEvaluation.EvaluateWithCurves(images, classCount, options.VocIouThreshold, classNames);
        var coco = CocoEvaluation.Evaluate(images, classCount);

        var gtCounts = new int[classCount];
        var dtCounts = new int[classCount];
        foreach (var im in images)
        {
            foreach (var c in im.GtClasses) gtCounts[c]++;
            foreach (var c in im.DtClasses) dtCounts[c]++;
        }
        return new DetectionMetrics(classNames, images.Count, gtCounts, dtCounts,
            new VocMetrics(true, options.VocIouThreshold, ap07, curves),
            new VocMetrics(false, options.VocIouThreshold, ap, curves),
            new CocoMetrics(CocoEvaluation.Summarize(coco), CocoEvaluation.PerClassAp(coco)),
            DetectionConfusionMatrix.Compute(images, classNames, options.VocIouThreshold, options.ConfusionMatrixScoreThreshold));
    }
}
