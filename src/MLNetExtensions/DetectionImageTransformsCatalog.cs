using Microsoft.ML;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Transforms;

namespace MLNetExtensions;

/// <summary>
/// Image transforms for detection and segmentation on <c>mlContext.Transforms</c>. They compose with ML.NET's
/// <c>LoadImages</c>, <c>ConvertToGrayscale</c> and <c>ExtractPixels</c>; use <see cref="ResizeWithPadding(TransformsCatalog, string, int, int, string?, string?)"/>
/// instead of <c>ResizeImages</c> when boxes or masks must follow the pixels.
/// </summary>
public static class DetectionImageTransformsCatalog
{
    /// <summary>(x − mean) / max(stddev, 1/√N) per row of a pixel vector, like <c>tf.image.per_image_standardization</c>. Savable.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The standardized vector.</param>
    /// <param name="inputColumnName">The vector of Single to read; <paramref name="outputColumnName"/> when null.</param>
    public static PerImageStandardizationEstimator PerImageStandardization(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName = null)
        => new(catalog, new PerImageStandardizationEstimator.Options(outputColumnName, inputColumnName));

    /// <summary>Per-image standardization with all settings.</summary>
    public static PerImageStandardizationEstimator PerImageStandardization(this TransformsCatalog catalog,
        PerImageStandardizationEstimator.Options options)
        => new(catalog, options);

    /// <summary>Pixels in [0, 255] to [−1, 1]: x / 127.5 − 1. Savable.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The scaled vector.</param>
    /// <param name="inputColumnName">The vector of Single to read; <paramref name="outputColumnName"/> when null.</param>
    public static ScaleToMinusOneOneEstimator ScaleToMinusOneOne(this TransformsCatalog catalog,
        string outputColumnName, string? inputColumnName = null)
        => new(catalog, new ScaleToMinusOneOneEstimator.Options(outputColumnName, inputColumnName));

    /// <summary>[0, 255] to [−1, 1] with all settings.</summary>
    public static ScaleToMinusOneOneEstimator ScaleToMinusOneOne(this TransformsCatalog catalog,
        ScaleToMinusOneOneEstimator.Options options)
        => new(catalog, options);

    /// <summary>Letterbox: resize keeping the aspect ratio, pad to <paramref name="imageWidth"/>×<paramref name="imageHeight"/>
    /// (centred, grey 114), move the boxes with the pixels and write the scale and offsets as columns.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The letterboxed image.</param>
    /// <param name="imageWidth">Target width.</param>
    /// <param name="imageHeight">Target height.</param>
    /// <param name="inputColumnName">The image to read; <paramref name="outputColumnName"/> when null.</param>
    /// <param name="boxesColumnName">Boxes moved in place; null when there are none (scoring).</param>
    public static ResizeWithPaddingEstimator ResizeWithPadding(this TransformsCatalog catalog, string outputColumnName,
        int imageWidth, int imageHeight, string? inputColumnName = null,
        string? boxesColumnName = ResizeWithPaddingEstimator.Defaults.BoxesColumnName)
        => ResizeWithPadding(catalog, new ResizeWithPaddingEstimator.Options(outputColumnName, imageWidth, imageHeight, inputColumnName, boxesColumnName));

    /// <summary>Letterbox with all settings (anchor, pad colour, mask, geometry column names).</summary>
    public static ResizeWithPaddingEstimator ResizeWithPadding(this TransformsCatalog catalog, ResizeWithPaddingEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ResizeWithPaddingEstimator(options);
    }

    /// <summary>Crops every image to a rectangle, clipping boxes and dropping those left with too little area
    /// (with their labels and difficult flags).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The cropped image.</param>
    /// <param name="x">Left edge of the crop.</param>
    /// <param name="y">Top edge of the crop.</param>
    /// <param name="width">Crop width.</param>
    /// <param name="height">Crop height.</param>
    /// <param name="inputColumnName">The image to read; <paramref name="outputColumnName"/> when null.</param>
    public static CropImageEstimator CropImage(this TransformsCatalog catalog, string outputColumnName,
        int x, int y, int width, int height, string? inputColumnName = null)
        => CropImage(catalog, new CropImageEstimator.Options(outputColumnName, x, y, width, height, inputColumnName));

    /// <summary>Crop with all settings (box, label, difficult and mask columns, minimum visible fraction).</summary>
    public static CropImageEstimator CropImage(this TransformsCatalog catalog, CropImageEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new CropImageEstimator(options);
    }

    /// <summary>Training-time augmentation: seeded random crop, horizontal flip and brightness/contrast jitter,
    /// applied consistently to the image, boxes, labels and difficult flags.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The augmented image.</param>
    /// <param name="inputColumnName">The image to read; <paramref name="outputColumnName"/> when null.</param>
    /// <param name="seed">Seed of the per-row random draws.</param>
    public static AugmentDetectionEstimator AugmentDetection(this TransformsCatalog catalog, string outputColumnName,
        string? inputColumnName = null, int seed = AugmentDetectionEstimator.Defaults.Seed)
        => AugmentDetection(catalog, new AugmentDetectionEstimator.Options(outputColumnName, inputColumnName, seed));

    /// <summary>Augmentation with all settings.</summary>
    public static AugmentDetectionEstimator AugmentDetection(this TransformsCatalog catalog, AugmentDetectionEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AugmentDetectionEstimator(options);
    }

    /// <summary>Region proposals by selective search (Uijlings et al. 2013, as OpenCV's ximgproc): reads each row's
    /// image file and adds N×4 boxes <c>[xmin, ymin, xmax, ymax]</c> in pixels of the image on disk, best-ranked first,
    /// at most 2000.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The proposals column.</param>
    /// <param name="imagePathColumnName">The text column of image file paths.</param>
    /// <param name="strategy">Fast (8 hierarchies) or quality (80).</param>
    public static SelectiveSearchEstimator SelectiveSearch(this TransformsCatalog catalog,
        string outputColumnName = SelectiveSearchEstimator.Defaults.OutputColumnName,
        string imagePathColumnName = SelectiveSearchEstimator.Defaults.ImagePathColumnName,
        SelectiveSearchStrategy strategy = SelectiveSearchStrategy.Fast)
        => SelectiveSearch(catalog, new SelectiveSearchEstimator.Options
        {
            OutputColumnName = outputColumnName, ImagePathColumnName = imagePathColumnName, Strategy = strategy,
        });

    /// <summary>Selective search with all settings (image folder, maximum proposals, strategy, seed, minimum box size).</summary>
    public static SelectiveSearchEstimator SelectiveSearch(this TransformsCatalog catalog, SelectiveSearchEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SelectiveSearchEstimator(options);
    }
}
