namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Training-time augmentation of detection images, applied to each original image before it is resized to the network
/// input (<see cref="DetectionPixelAugmenter"/>), in torchvision's SSD order: zoom-out (SSD's expand:
/// <c>RandomZoomOut</c>), IoU-constrained random crop (<c>RandomIoUCrop</c>), horizontal flip, then brightness and
/// contrast. Boxes follow the pixels. Every random choice comes from the (seed, step, position) generator of
/// <see cref="TrainingPlan.SampleRandom"/>. The defaults are torchvision's SSD recipe.
/// </summary>
/// <param name="HorizontalFlip">Mirror half the images.</param>
/// <param name="RandomCrop">SSD's crop: a minimum IoU drawn from {0, 0.1, 0.3, 0.5, 0.7, 0.9, none}, then up to 40 windows
/// with sides in [<paramref name="MinCropScale"/>, 1] of the image's and aspect ratio in [½, 2] until one keeps the centre
/// of a box that overlaps it by at least that IoU; the boxes whose centres are inside are kept, clipped.</param>
/// <param name="MinCropScale">The smallest crop side as a fraction of the image's (0.05 to 1; torchvision's 0.3).</param>
/// <param name="Brightness">Brightness shift drawn from [−b, b] (pixel values, 0 to 255).</param>
/// <param name="Contrast">Contrast factor drawn from [1 − c, 1 + c] (0 to 1).</param>
/// <param name="ZoomOut">Place half the images on a canvas up to <paramref name="MaxZoomOut"/> times their size filled with
/// the ImageNet mean colour, so the network sees its objects smaller (SSD's expand).</param>
/// <param name="MaxZoomOut">The largest canvas side as a multiple of the image's (1 to 8; torchvision's 4).</param>
/// <param name="Mosaic">The share of training images (0 to 1, default 0) made instead as a 2 × 2 mosaic of four images
/// (YOLOv4's; the other three drawn at random from the set): more objects and contexts per image, smaller objects.</param>
public sealed record DetectionAugmentation(bool HorizontalFlip = true, bool RandomCrop = true, float MinCropScale = 0.3f,
    float Brightness = 24f, float Contrast = 0.2f, bool ZoomOut = true, float MaxZoomOut = 4f, float Mosaic = 0f)
{
    private readonly float _mosaic = InRange(Mosaic, 0f, 1f, nameof(Mosaic));
    private readonly float _minCropScale = InRange(MinCropScale, 0.05f, 1f, nameof(MinCropScale));
    private readonly float _brightness = InRange(Brightness, 0f, 255f, nameof(Brightness));
    private readonly float _contrast = InRange(Contrast, 0f, 1f, nameof(Contrast));
    private readonly float _maxZoomOut = InRange(MaxZoomOut, 1f, 8f, nameof(MaxZoomOut));

    public float MinCropScale { get => _minCropScale; init => _minCropScale = InRange(value, 0.05f, 1f, nameof(MinCropScale)); }
    public float Brightness { get => _brightness; init => _brightness = InRange(value, 0f, 255f, nameof(Brightness)); }
    public float Contrast { get => _contrast; init => _contrast = InRange(value, 0f, 1f, nameof(Contrast)); }
    public float MaxZoomOut { get => _maxZoomOut; init => _maxZoomOut = InRange(value, 1f, 8f, nameof(MaxZoomOut)); }
    public float Mosaic { get => _mosaic; init => _mosaic = InRange(value, 0f, 1f, nameof(Mosaic)); }

    private static float InRange(float value, float min, float max, string name)
        => float.IsFinite(value) && value >= min && value <= max ? value
            : throw new ArgumentOutOfRangeException(name, value, $"DetectionAugmentation.{name} must be between {min} and {max}.");
}
