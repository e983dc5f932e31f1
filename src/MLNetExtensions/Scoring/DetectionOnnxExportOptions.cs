namespace MLNetExtensions.Scoring;

/// <summary>
/// How <see cref="DetectionTransformer.ExportOnnx(string, DetectionOnnxExportOptions)"/> puts the post-processing of
/// the scoring chain into the exported graph: score threshold, class-aware non-maximum suppression and the best
/// detections, with boxes in original-image or input pixels. Unset thresholds are the model's own (those its
/// <c>Transform</c> applies), so the default options give what the ML.NET chain gives. Validated where set.
/// </summary>
public sealed record DetectionOnnxExportOptions
{
    private readonly float? _scoreThreshold;
    private readonly float? _iouThreshold;
    private readonly int? _maxDetections;
    private readonly ExportedBoxCoordinates _boxCoordinates = ExportedBoxCoordinates.OriginalImage;
    private readonly ExportedDetectionLayout _layout = ExportedDetectionLayout.PerImage;

    /// <summary>Class scores below this are dropped before NMS, in [0, 1]; null (the default): the model's own.</summary>
    public float? ScoreThreshold
    {
        get => _scoreThreshold;
        init => _scoreThreshold = Probability(value, nameof(ScoreThreshold));
    }

    /// <summary>
    /// A box is suppressed when its IoU with a higher-scored box of the same class is above this, in [0, 1]; null
    /// (the default): the model's own.
    /// </summary>
    public float? IouThreshold
    {
        get => _iouThreshold;
        init => _iouThreshold = Probability(value, nameof(IouThreshold));
    }

    /// <summary>At most this many detections per image, the highest-scored, at least 1; null (the default): the model's own.</summary>
    public int? MaxDetections
    {
        get => _maxDetections;
        init
        {
            if (value < 1)
                throw new ArgumentOutOfRangeException(nameof(MaxDetections), value, "MaxDetections must be at least 1 (or null for the model's own).");
            _maxDetections = value;
        }
    }

    /// <summary>What the boxes are measured in; <see cref="ExportedBoxCoordinates.OriginalImage"/> by default.</summary>
    public ExportedBoxCoordinates BoxCoordinates
    {
        get => _boxCoordinates;
        init => _boxCoordinates = Enum.IsDefined(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(BoxCoordinates), value, $"BoxCoordinates must be one of {string.Join(", ", Enum.GetNames<ExportedBoxCoordinates>())}.");
    }

    /// <summary>How detections are returned; <see cref="ExportedDetectionLayout.PerImage"/> by default.</summary>
    public ExportedDetectionLayout Layout
    {
        get => _layout;
        init => _layout = Enum.IsDefined(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(Layout), value, $"Layout must be one of {string.Join(", ", Enum.GetNames<ExportedDetectionLayout>())}.");
    }

    private static float? Probability(float? value, string name)
    {
        if (value is float v && !(v >= 0f && v <= 1f))
            throw new ArgumentOutOfRangeException(name, v, $"{name} must be in [0, 1] (or null for the model's own).");
        return value;
    }
}
