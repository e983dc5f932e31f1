namespace MLNetExtensions.Data.Yolo;

/// <summary>Options of the YOLO reader (<c>mlContext.Data.LoadFromYolo</c>).</summary>
public sealed class YoloOptions
{
    private readonly IReadOnlyList<string>? _classNames;
    private readonly string? _classNamesFile;

    /// <summary>The classes: class index i of a label line is <c>ClassNames[i]</c> (label key i + 1).
    /// Null: read them from <see cref="ClassNamesFile"/> or from the file found next to the labels.</summary>
    public IReadOnlyList<string>? ClassNames
    {
        get => _classNames;
        init => _classNames = value == null ? null : ClassList.Validate(value, nameof(ClassNames));
    }

    /// <summary>
    /// A file with the class names: a text file with one name per line (<c>classes.txt</c>, Darknet's <c>obj.names</c>)
    /// or an Ultralytics <c>data.yaml</c> with a <c>names:</c> list or index map. Null: look for <c>classes.txt</c>,
    /// <c>obj.names</c>, <c>data.yaml</c> or <c>dataset.yaml</c> in the labels folder, then its parent and grandparent.
    /// </summary>
    public string? ClassNamesFile
    {
        get => _classNamesFile;
        init
        {
            if (value != null) ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(ClassNamesFile));
            _classNamesFile = value;
        }
    }

    /// <summary>What to do with a box whose class index is out of range, whose values are outside [0, 1], or whose
    /// size is zero. Lines that are not five numbers always throw.</summary>
    public InvalidBoxHandling InvalidBoxes { get; init; } = InvalidBoxHandling.Throw;
}
