namespace MLNetExtensions.Data.Coco;

/// <summary>
/// Columns the COCO readers add to the <see cref="DetectionColumns"/> schema, so evaluation can follow
/// pycocotools: <see cref="ImageId"/> (<c>long</c>, COCO's image id, also the key that joins ground truth and
/// results), <see cref="IsCrowd"/> (vector of <c>bool</c>, one per box: COCO's <c>iscrowd</c>) and
/// <see cref="Areas"/> (vector of <c>float</c>, one per box: COCO's <c>area</c>, the segment area that
/// COCOeval uses for its small/medium/large ranges).
/// </summary>
public static class CocoColumns
{
    public const string ImageId = "ImageId";
    public const string IsCrowd = "IsCrowd";
    public const string Areas = "Areas";
}
