namespace MLNetExtensions.Data.Voc;

/// <summary>Options of the Pascal VOC detection reader (<c>mlContext.Data.LoadFromPascalVoc</c>).</summary>
public sealed class PascalVocOptions
{
    private readonly IReadOnlyList<string>? _classNames;

    /// <summary>
    /// The classes; label key <c>i + 1</c> is <c>ClassNames[i]</c>. Null (the default) means the 20 VOC classes
    /// (<see cref="PascalVocClasses.Detection"/>), unless <see cref="DiscoverClasses"/> is set.
    /// </summary>
    public IReadOnlyList<string>? ClassNames
    {
        get => _classNames;
        init => _classNames = value == null ? null : ClassList.Validate(value, nameof(ClassNames));
    }

    /// <summary>
    /// Use the class names found in the image set's annotations, sorted ordinally, instead of a fixed list.
    /// Load validation data with the training set's <see cref="DetectionDataset.ClassNames"/> so both index the same classes.
    /// </summary>
    public bool DiscoverClasses { get; init; }

    /// <summary>What to do with a box outside its image, of zero or negative size, or of an unknown class.</summary>
    public InvalidBoxHandling InvalidBoxes { get; init; } = InvalidBoxHandling.Throw;

    /// <summary>Keep objects marked <c>&lt;difficult&gt;1&lt;/difficult&gt;</c> (with their Difficult flag set, which
    /// VOC evaluation ignores). True by default, as the VOC devkit does; false drops them.</summary>
    public bool IncludeDifficult { get; init; } = true;
}

/// <summary>Options of the Pascal VOC segmentation reader (<c>mlContext.Data.LoadFromPascalVocSegmentation</c>).</summary>
public sealed class PascalVocSegmentationOptions
{
    private readonly string _maskFolder = "SegmentationClass";

    /// <summary>The folder under the VOC root that holds the masks: <c>SegmentationClass</c> (class indices, the
    /// default) or <c>SegmentationObject</c> (instance indices).</summary>
    public string MaskFolder
    {
        get => _maskFolder;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(MaskFolder));
            _maskFolder = value;
        }
    }

    /// <summary>Read each image's and mask's header and fail when their sizes differ (true by default).</summary>
    public bool CheckSizes { get; init; } = true;
}
