using MLNetExtensions.Data;
using MLNetExtensions.Data.Coco;

namespace MLNetExtensions.Evaluation;

/// <summary>
/// Columns and settings of <c>mlContext.Detection().Evaluate</c>, validated as they are set. Defaults are the
/// names of <see cref="DetectionColumns"/> and <see cref="CocoColumns"/>. The optional columns
/// (<see cref="DifficultColumnName"/>, <see cref="IsCrowdColumnName"/>, <see cref="AreasColumnName"/>,
/// <see cref="ImageIdColumnName"/>) are used when the data has them; set one to null to ignore the column even then.
/// </summary>
public sealed class DetectionEvaluatorOptions
{
    /// <summary>The IoU threshold of the VOC metrics by default: a detection is a hit when its IoU is above 0.5.</summary>
    public const double DefaultVocIouThreshold = 0.5;

    private readonly string _boxes = DetectionColumns.Boxes;
    private readonly string _labels = DetectionColumns.Labels;
    private readonly string _predictedBoxes = DetectionColumns.PredictedBoxes;
    private readonly string _predictedLabels = DetectionColumns.PredictedLabels;
    private readonly string _scores = DetectionColumns.Scores;
    private readonly double _vocIouThreshold = DefaultVocIouThreshold;

    /// <summary>Ground-truth boxes: vector of <c>float</c>, 4 per box, <c>[xmin, ymin, xmax, ymax]</c>.</summary>
    public string BoxesColumnName { get => _boxes; init => _boxes = Required(value, nameof(BoxesColumnName)); }

    /// <summary>Ground-truth labels: vector of <c>uint</c> keys with the class names as key values, one per box.</summary>
    public string LabelsColumnName { get => _labels; init => _labels = Required(value, nameof(LabelsColumnName)); }

    /// <summary>Optional vector of <c>bool</c>, one per box (or empty: none set): VOC's difficult flag. The VOC
    /// metrics ignore these boxes; the COCO metrics, like pycocotools, do not look at it.</summary>
    public string? DifficultColumnName { get; init; } = DetectionColumns.Difficult;

    /// <summary>Optional vector of <c>bool</c>, one per box (or empty: none set): COCO's <c>iscrowd</c>. The COCO metrics treat these
    /// as pycocotools does; the VOC metrics, like the VOC devkit, do not look at it.</summary>
    public string? IsCrowdColumnName { get; init; } = CocoColumns.IsCrowd;

    /// <summary>Optional vector of <c>float</c>, one per box: the object area COCO's small/medium/large ranges use
    /// (COCO's <c>area</c>). Without it, or in a row where it is empty, the box area is used.</summary>
    public string? AreasColumnName { get; init; } = CocoColumns.Areas;

    /// <summary>Optional <c>long</c> image id. When present, images are evaluated in ascending id order, as
    /// pycocotools does (it decides the order of equal scores), and ids must be unique; otherwise in row order.</summary>
    public string? ImageIdColumnName { get; init; } = CocoColumns.ImageId;

    /// <summary>Predicted boxes: vector of <c>float</c>, 4 per box, <c>[xmin, ymin, xmax, ymax]</c>.</summary>
    public string PredictedBoxesColumnName { get => _predictedBoxes; init => _predictedBoxes = Required(value, nameof(PredictedBoxesColumnName)); }

    /// <summary>Predicted labels: vector of <c>uint</c> keys over the same classes as the ground truth.</summary>
    public string PredictedLabelsColumnName { get => _predictedLabels; init => _predictedLabels = Required(value, nameof(PredictedLabelsColumnName)); }

    /// <summary>Detection scores: vector of <c>float</c>, one per predicted box.</summary>
    public string ScoresColumnName { get => _scores; init => _scores = Required(value, nameof(ScoresColumnName)); }

    /// <summary>IoU a detection must exceed (strictly, as voc_eval's <c>ovmax &gt; ovthresh</c>) to hit a
    /// ground-truth box in the VOC metrics. In (0, 1); 0.5 by default. The COCO metrics always use 0.50:0.05:0.95.</summary>
    public double VocIouThreshold
    {
        get => _vocIouThreshold;
        init
        {
            if (!(value > 0 && value < 1))
                throw new ArgumentOutOfRangeException(nameof(VocIouThreshold), value, "The VOC IoU threshold must be in (0, 1).");
            _vocIouThreshold = value;
        }
    }

    /// <summary>The score a detection needs to take part in <see cref="DetectionMetrics.ConfusionMatrix"/> by default.</summary>
    public const double DefaultConfusionMatrixScoreThreshold = 0.5;

    private readonly double _confusionScore = DefaultConfusionMatrixScoreThreshold;

    /// <summary>
    /// Detections scored below this are left out of <see cref="DetectionMetrics.ConfusionMatrix"/> (a confusion matrix
    /// is of one operating point; the AP figures use every detection). In [0, 1]; 0.5 by default. The matrix's IoU
    /// threshold is <see cref="VocIouThreshold"/>.
    /// </summary>
    public double ConfusionMatrixScoreThreshold
    {
        get => _confusionScore;
        init
        {
            if (!(value >= 0 && value <= 1))
                throw new ArgumentOutOfRangeException(nameof(ConfusionMatrixScoreThreshold), value, "The confusion matrix's score threshold must be in [0, 1].");
            _confusionScore = value;
        }
    }

    private static string Required(string value, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, name);
        return value;
    }
}
