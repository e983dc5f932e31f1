using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Data.Coco;

/// <summary>COCO loaders on <c>mlContext.Data</c>.</summary>
public static class CocoCatalogExtensions
{
    /// <summary>
    /// Loads a COCO instances file (<c>instances_*.json</c>) into the <see cref="DetectionColumns"/> schema, one row
    /// per entry of <c>images</c> (in the file's order, images without annotations included). Boxes
    /// <c>[x, y, w, h]</c> become <c>[x, y, x + w, y + h]</c>; class names are the category names in ascending id
    /// order. Adds <see cref="CocoColumns.ImageId"/>, <see cref="CocoColumns.IsCrowd"/> and
    /// <see cref="CocoColumns.Areas"/> for COCO evaluation. Invalid boxes throw.
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="annotationsJsonPath">The instances JSON file.</param>
    /// <param name="imagesFolder">The folder holding the images; ImagePath is this joined with <c>file_name</c>. Null keeps <c>file_name</c> as written.</param>
    /// <exception cref="InvalidDataException">The file is not valid JSON (the message names line and position), or
    /// an annotation refers to an unknown image or category, or has an invalid box.</exception>
    public static IDataView LoadFromCocoJson(this DataOperationsCatalog catalog, string annotationsJsonPath, string? imagesFolder = null)
        => LoadFromCocoJson(catalog, annotationsJsonPath, imagesFolder, new CocoLoaderOptions());

    /// <summary>Loads a COCO instances file with the given handling of invalid boxes, crowd annotations and image
    /// checks; skipped boxes are logged as warnings to <c>MLContext.Log</c>.</summary>
    public static IDataView LoadFromCocoJson(this DataOperationsCatalog catalog, string annotationsJsonPath, string? imagesFolder, CocoLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(annotationsJsonPath);
        ArgumentNullException.ThrowIfNull(options);
        var coco = CocoInstancesReader.Read(annotationsJsonPath, imagesFolder, options);
        CatalogEnvironment.LogWarnings(catalog, nameof(LoadFromCocoJson), coco.Warnings);
        var view = DetectionDataView.Create(catalog, coco.Records, coco.ClassNames);
        return new AppendedColumnsDataView(view,
        [
            AppendedColumn.Scalar(CocoColumns.ImageId, NumberDataViewType.Int64, coco.ImageIds),
            AppendedColumn.Vector(CocoColumns.IsCrowd, BooleanDataViewType.Instance, coco.IsCrowd),
            AppendedColumn.Vector(CocoColumns.Areas, NumberDataViewType.Single, coco.Areas),
        ]);
    }

    /// <summary>
    /// Loads a COCO results file (<c>[{image_id, category_id, bbox, score}, ...]</c>, the detections pycocotools'
    /// <c>loadRes</c> reads) as scored rows: one per image of <paramref name="annotationsJsonPath"/>, in its order,
    /// with <see cref="CocoColumns.ImageId"/>, <see cref="DetectionColumns.PredictedBoxes"/>,
    /// <see cref="DetectionColumns.PredictedLabels"/> (keys over the same class names as
    /// <see cref="LoadFromCocoJson(DataOperationsCatalog, string, string?)"/>) and <see cref="DetectionColumns.Scores"/>.
    /// Put them next to the ground truth with <see cref="JoinOnImageId"/>.
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="resultsJsonPath">The results JSON file.</param>
    /// <param name="annotationsJsonPath">The instances file the results are for: it maps category ids to classes.</param>
    /// <exception cref="InvalidDataException">The file is not valid JSON, or a detection names an image or category
    /// the instances file does not have, or lacks its box or score.</exception>
    public static IDataView LoadFromCocoResultsJson(this DataOperationsCatalog catalog, string resultsJsonPath, string annotationsJsonPath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(resultsJsonPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(annotationsJsonPath);
        return CocoResultsReader.Read(catalog, resultsJsonPath, annotationsJsonPath);
    }

    /// <summary>
    /// Writes the detections of <paramref name="scored"/> (<see cref="DetectionColumns.PredictedBoxes"/>,
    /// <see cref="DetectionColumns.PredictedLabels"/>, <see cref="DetectionColumns.Scores"/>) as a COCO results file,
    /// <c>[{image_id, category_id, bbox: [x, y, w, h], score}, ...]</c>, which pycocotools' <c>loadRes</c> and
    /// <see cref="LoadFromCocoResultsJson"/> read. Image ids are the <see cref="CocoColumns.ImageId"/> column when
    /// the data has one (data loaded with <see cref="LoadFromCocoJson(DataOperationsCatalog, string, string?)"/>), else
    /// the 0-based row index; category ids are the class keys (class index + 1), which are COCO's ids when they run
    /// 1, 2, ... in name order; for other ids use the overload that takes the instances file. Written atomically.
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="scored">Scored rows, e.g. a detector's <c>Transform</c> output.</param>
    /// <param name="resultsJsonPath">The file to write.</param>
    /// <returns>The number of detections written.</returns>
    /// <exception cref="ArgumentException">A prediction column is missing or of the wrong type.</exception>
    /// <exception cref="InvalidDataException">A row's counts disagree, a label is outside the classes, or a value is not finite; the message names the row.</exception>
    public static int SaveAsCocoResults(this DataOperationsCatalog catalog, IDataView scored, string resultsJsonPath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(scored);
        ArgumentException.ThrowIfNullOrWhiteSpace(resultsJsonPath);
        return CocoResultsWriter.Write(scored, resultsJsonPath, null);
    }

    /// <summary>
    /// Writes the detections of <paramref name="scored"/> as a COCO results file for the instances file
    /// <paramref name="annotationsJsonPath"/>: category ids are that file's (the predictions' class names must be its
    /// category names in id order, as <see cref="LoadFromCocoJson(DataOperationsCatalog, string, string?)"/> gives
    /// them), image ids the <see cref="CocoColumns.ImageId"/> column, or without one the file's images in row order.
    /// See <see cref="SaveAsCocoResults(DataOperationsCatalog, IDataView, string)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A prediction column is missing or of the wrong type, or the classes are not the file's categories.</exception>
    public static int SaveAsCocoResults(this DataOperationsCatalog catalog, IDataView scored, string resultsJsonPath, string annotationsJsonPath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(scored);
        ArgumentException.ThrowIfNullOrWhiteSpace(resultsJsonPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(annotationsJsonPath);
        return CocoResultsWriter.Write(scored, resultsJsonPath, annotationsJsonPath);
    }

    /// <summary>
    /// Adds every column of <paramref name="predictions"/> (but the id) to the row of <paramref name="groundTruth"/>
    /// with the same image id, so ground truth and detections read from files can be evaluated together with
    /// <c>mlContext.Detection().Evaluate</c>. Ground-truth rows without predictions get empty vectors.
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Data</c> catalog.</param>
    /// <param name="groundTruth">Rows with an Int64 image id column, at most one per image.</param>
    /// <param name="predictions">Rows with the same id column, at most one per image, each id in <paramref name="groundTruth"/>.</param>
    /// <param name="imageIdColumnName">The id column of both.</param>
    public static IDataView JoinOnImageId(this DataOperationsCatalog catalog, IDataView groundTruth, IDataView predictions, string imageIdColumnName = CocoColumns.ImageId)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentException.ThrowIfNullOrWhiteSpace(imageIdColumnName);
        return ImageIdJoin.Join(groundTruth, predictions, imageIdColumnName);
    }
}
