namespace MLNetExtensions.Data.Voc;

/// <summary>The class lists of Pascal VOC 2007-2012.</summary>
public static class PascalVocClasses
{
    /// <summary>The 20 detection classes, in the devkit's order (the order of the class index everyone uses).</summary>
    public static IReadOnlyList<string> Detection { get; } =
    [
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ];

    /// <summary>The 21 segmentation classes: mask index 0 is "background", index i (1-20) is <c>Detection[i - 1]</c>.</summary>
    public static IReadOnlyList<string> Segmentation { get; } = ["background", .. Detection];
}
