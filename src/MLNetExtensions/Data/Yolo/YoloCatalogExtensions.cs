using Microsoft.ML;

namespace MLNetExtensions.Data.Yolo;

/// <summary>YOLO label loaders on <c>mlContext.Data</c>.</summary>
public static class YoloCatalogExtensions
{
    /// <summary>
    /// Loads YOLO labels (<c>class cx cy w h</c> per line, normalised) into the <see cref="DetectionColumns"/> schema,
    /// boxes in pixels of each image (see <see cref="YoloReader"/>).
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="imagesFolder">The folder of images, e.g. <c>dataset/images/train</c>.</param>
    /// <param name="labelsFolder">The folder of label files named like the images, e.g. <c>dataset/labels/train</c>.</param>
    /// <param name="classNames">The class names by class index; null reads <c>classes.txt</c>, <c>obj.names</c> or
    /// <c>data.yaml</c> found next to the labels (see <see cref="YoloOptions.ClassNamesFile"/>).</param>
    public static IDataView LoadFromYolo(this DataOperationsCatalog catalog, string imagesFolder, string labelsFolder, IReadOnlyList<string>? classNames = null)
        => LoadFromYolo(catalog, imagesFolder, labelsFolder, new YoloOptions { ClassNames = classNames });

    /// <summary>Loads YOLO labels with the given options; warnings (skipped boxes, label files without an image) go to
    /// <c>MLContext.Log</c> (use <see cref="YoloReader.Read"/> to get them as a list).</summary>
    public static IDataView LoadFromYolo(this DataOperationsCatalog catalog, string imagesFolder, string labelsFolder, YoloOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var dataset = YoloReader.Read(imagesFolder, labelsFolder, options);
        CatalogEnvironment.LogWarnings(catalog, nameof(LoadFromYolo), dataset.Warnings);
        return DetectionDataView.Create(catalog, dataset.Records, dataset.ClassNames);
    }
}
