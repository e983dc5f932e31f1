namespace MLNetExtensions.Transforms.Internal;

/// <summary>The box columns of transforms that can drop boxes: boxes, the per-box columns filtered with them, and the
/// visibility threshold. Checked once here for CropImage and AugmentDetection.</summary>
internal sealed class PerBoxOptions
{
    public PerBoxOptions(string? boxes, string? labels, string? difficult, float minVisibleFraction)
    {
        ColumnCheck.CheckName(boxes, "boxesColumnName", allowNull: true);
        ColumnCheck.CheckName(labels, "labelsColumnName", allowNull: true);
        ColumnCheck.CheckName(difficult, "difficultColumnName", allowNull: true);
        if (boxes == null && (labels != null || difficult != null))
            throw new ArgumentException("labelsColumnName/difficultColumnName need boxesColumnName: per-box columns are filtered with the boxes. Pass null for them when there are no boxes.");
        if (!(minVisibleFraction >= 0 && minVisibleFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(minVisibleFraction), $"minVisibleFraction {minVisibleFraction} must be in [0, 1].");
        Boxes = boxes;
        Labels = labels;
        Difficult = difficult;
        MinVisibleFraction = minVisibleFraction;
        PerBoxColumns = new[] { labels, difficult }.Where(n => n != null).Select(n => n!).ToArray();
    }

    public string? Boxes { get; }
    public string? Labels { get; }
    public string? Difficult { get; }
    public float MinVisibleFraction { get; }
    public IReadOnlyList<string> PerBoxColumns { get; }
}
