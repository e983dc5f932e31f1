using MLNetExtensions.Data;

namespace MLNetExtensions.Evaluation;

/// <summary>
/// Columns and settings of <c>mlContext.Segmentation().Evaluate</c>, validated as they are set. The ground truth is
/// read from <see cref="GroundTruthMaskColumnName"/> when set, otherwise loaded from the files named in
/// <see cref="MaskPathColumnName"/> with <see cref="MaskLoader"/>.
/// </summary>
public sealed class SegmentationEvaluatorOptions
{
    private readonly string _predictedMask = SegmentationColumns.PredictedMask;
    private readonly string _maskPath = SegmentationColumns.MaskPath;
    private readonly IReadOnlyList<string>? _classNames;
    private readonly int? _numberOfClasses;
    private readonly Func<string, (byte[] Pixels, int Width, int Height)> _maskLoader = PngMaskLoader.Load;

    /// <summary>Predicted class per pixel: vector of <c>byte</c>, H×W row-major, at the size of the ground-truth mask.</summary>
    public string PredictedMaskColumnName { get => _predictedMask; init => _predictedMask = Required(value, nameof(PredictedMaskColumnName)); }

    /// <summary>Text column of ground-truth mask files (used when <see cref="GroundTruthMaskColumnName"/> is null).</summary>
    public string MaskPathColumnName { get => _maskPath; init => _maskPath = Required(value, nameof(MaskPathColumnName)); }

    /// <summary>Optional vector of <c>byte</c> holding the ground-truth mask in the layout of the prediction; when
    /// set, mask files are not read. Null by default.</summary>
    public string? GroundTruthMaskColumnName { get; init; }

    /// <summary>
    /// Reads a mask file into class indices (row-major), its width and its height. The default reads 8-bit
    /// grayscale PNGs (values are the indices) and palette PNGs in the Pascal VOC palette.
    /// </summary>
    public Func<string, (byte[] Pixels, int Width, int Height)> MaskLoader
    {
        get => _maskLoader;
        init => _maskLoader = value ?? throw new ArgumentNullException(nameof(MaskLoader));
    }

    /// <summary>The class names, index <c>i</c> naming class <c>i</c>; they fix the number of classes. Optional.</summary>
    public IReadOnlyList<string>? ClassNames
    {
        get => _classNames;
        init
        {
            if (value != null && (value.Count == 0 || value.Count > SegmentationColumns.IgnoreIndex))
                throw new ArgumentException($"Give between 1 and {SegmentationColumns.IgnoreIndex} class names (index {SegmentationColumns.IgnoreIndex} means 'ignore').", nameof(ClassNames));
            if (_numberOfClasses is int n && value != null && value.Count != n)
                throw new ArgumentException($"{value.Count} class names but {nameof(NumberOfClasses)} is {n}.", nameof(ClassNames));
            _classNames = value?.ToArray();
        }
    }

    /// <summary>
    /// The number of classes (indices 0 .. N-1); a pixel index at or above it, other than 255, fails. Null (the
    /// default) takes the count of <see cref="ClassNames"/>, or else the largest index seen plus one.
    /// </summary>
    public int? NumberOfClasses
    {
        get => _numberOfClasses ?? _classNames?.Count;
        init
        {
            if (value is int n && (n < 1 || n > SegmentationColumns.IgnoreIndex))
                throw new ArgumentOutOfRangeException(nameof(NumberOfClasses), value, $"The number of classes must be in 1..{SegmentationColumns.IgnoreIndex} (index {SegmentationColumns.IgnoreIndex} means 'ignore').");
            if (value is int m && _classNames != null && _classNames.Count != m)
                throw new ArgumentException($"{nameof(NumberOfClasses)} is {m} but there are {_classNames.Count} class names.", nameof(NumberOfClasses));
            _numberOfClasses = value;
        }
    }

    private static string Required(string value, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, name);
        return value;
    }
}
