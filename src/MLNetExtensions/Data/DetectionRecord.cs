namespace MLNetExtensions.Data;

/// <summary>One annotated box. Coordinates are pixels, <c>[xmin, ymin, xmax, ymax]</c>.</summary>
public readonly record struct BoundingBox(float XMin, float YMin, float XMax, float YMax)
{
    public float Width => XMax - XMin;
    public float Height => YMax - YMin;
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);
    public override string ToString() => $"[{XMin}, {YMin}, {XMax}, {YMax}]";
}

/// <summary>One image and its boxes, the row a reader produces before it becomes an <c>IDataView</c> row.</summary>
public sealed class DetectionRecord
{
    public DetectionRecord(string imagePath, IReadOnlyList<BoundingBox> boxes, IReadOnlyList<string> labels, IReadOnlyList<bool>? difficult = null)
    {
        ArgumentNullException.ThrowIfNull(imagePath);
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(labels);
        if (boxes.Count != labels.Count)
            throw new ArgumentException($"'{imagePath}': {boxes.Count} boxes but {labels.Count} labels.");
        if (difficult != null && difficult.Count != boxes.Count)
            throw new ArgumentException($"'{imagePath}': {boxes.Count} boxes but {difficult.Count} difficult flags.");
        ImagePath = imagePath;
        Boxes = boxes;
        Labels = labels;
        Difficult = difficult ?? new bool[boxes.Count];
    }

    public string ImagePath { get; }
    public IReadOnlyList<BoundingBox> Boxes { get; }
    public IReadOnlyList<string> Labels { get; }
    public IReadOnlyList<bool> Difficult { get; }
}

/// <summary>One image and its mask, the row a segmentation reader produces.</summary>
public sealed record SegmentationRecord(string ImagePath, string MaskPath);
