using Microsoft.ML;

namespace MLNetExtensions.Data.Voc;

/// <summary>Pascal VOC loaders on <c>mlContext.Data</c>.</summary>
public static class PascalVocCatalogExtensions
{
    /// <summary>
    /// Loads the detection annotations of a VOC image set (<c>ImageSets/Main/{imageSet}.txt</c>) with the 20 VOC
    /// classes, into the <see cref="DetectionColumns"/> schema. Boxes become continuous pixel coordinates
    /// <c>[xmin - 1, ymin - 1, xmax, ymax]</c> (see <see cref="PascalVocReader"/>).
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="vocRoot">The folder holding <c>ImageSets</c>, <c>Annotations</c> and <c>JPEGImages</c>, e.g. <c>VOCdevkit/VOC2012</c>.</param>
    /// <param name="imageSet">The image set: <c>train</c>, <c>val</c>, <c>trainval</c> or <c>test</c>.</param>
    public static IDataView LoadFromPascalVoc(this DataOperationsCatalog catalog, string vocRoot, string imageSet = "train")
        => LoadFromPascalVoc(catalog, vocRoot, imageSet, new PascalVocOptions());

    /// <summary>Loads a VOC image set with the given class list and handling of invalid boxes; skipped boxes are
    /// logged as warnings to <c>MLContext.Log</c> (use <see cref="PascalVocReader.ReadDetection"/> to get them as a list).</summary>
    public static IDataView LoadFromPascalVoc(this DataOperationsCatalog catalog, string vocRoot, string imageSet, PascalVocOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var dataset = PascalVocReader.ReadDetection(vocRoot, imageSet, options);
        CatalogEnvironment.LogWarnings(catalog, nameof(LoadFromPascalVoc), dataset.Warnings);
        return DetectionDataView.Create(catalog, dataset.Records, dataset.ClassNames);
    }

    /// <summary>
    /// Loads the image/mask pairs of a VOC segmentation image set (<c>ImageSets/Segmentation/{imageSet}.txt</c>,
    /// masks from <c>SegmentationClass</c>) into the <see cref="SegmentationColumns"/> schema (ImagePath, MaskPath).
    /// Read masks with <see cref="Masks.SegmentationMask.CreateFromFile"/>; class names are <see cref="PascalVocClasses.Segmentation"/>.
    /// </summary>
    public static IDataView LoadFromPascalVocSegmentation(this DataOperationsCatalog catalog, string vocRoot, string imageSet = "train")
        => LoadFromPascalVocSegmentation(catalog, vocRoot, imageSet, new PascalVocSegmentationOptions());

    /// <summary>Loads a VOC segmentation image set with the given mask folder and size checking.</summary>
    public static IDataView LoadFromPascalVocSegmentation(this DataOperationsCatalog catalog, string vocRoot, string imageSet, PascalVocSegmentationOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return SegmentationDataView.Create(catalog, PascalVocReader.ReadSegmentation(vocRoot, imageSet, options));
    }
}
