using Microsoft.ML;

namespace MLNetExtensions.Data;

/// <summary>
/// What a detection dataset reader found: the records, the class list their labels index, and warnings about what it
/// left out (boxes skipped under <see cref="InvalidBoxHandling.SkipWithWarning"/>, label files without an image).
/// </summary>
public sealed class DetectionDataset
{
    public DetectionDataset(IReadOnlyList<DetectionRecord> records, IReadOnlyList<string> classNames, IReadOnlyList<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(warnings);
        Records = records;
        ClassNames = classNames;
        Warnings = warnings;
    }

    public IReadOnlyList<DetectionRecord> Records { get; }
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>One line per problem worked around, naming the file and the problem. Empty when there was none.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The records as an <see cref="IDataView"/> in the <see cref="DetectionColumns"/> schema.</summary>
    public IDataView ToDataView(MLContext mlContext) => DetectionDataView.Create(mlContext, Records, ClassNames);
}
