using System.Globalization;

namespace MLNetExtensions.Data.Coco;

/// <summary>What <see cref="CocoInstancesReader"/> read: one record per image, in the file's image order, plus the
/// COCO-only values per image and box.</summary>
internal sealed record CocoInstances(
    string[] ClassNames,
    List<DetectionRecord> Records,
    long[] ImageIds,
    bool[][] IsCrowd,
    float[][] Areas,
    List<string> Warnings);

/// <summary>
/// Turns a COCO instances file into detection records: boxes <c>[x, y, w, h]</c> become <c>[x, y, x + w, y + h]</c>,
/// labels are category names, and every image gets a row, with or without annotations.
/// </summary>
internal static class CocoInstancesReader
{
    public static CocoInstances Read(string annotationsJsonPath, string? imagesFolder, CocoLoaderOptions options)
    {
        var file = CocoAnnotationFile.Load(annotationsJsonPath);
        int n = file.Images.Length;
        var boxes = new List<BoundingBox>[n];
        var labels = new List<string>[n];
        var crowd = new List<bool>[n];
        var areas = new List<float>[n];
        for (int i = 0; i < n; i++) { boxes[i] = []; labels[i] = []; crowd[i] = []; areas[i] = []; }
        var warnings = new List<string>();

        for (int i = 0; i < file.Annotations.Count; i++)
        {
            var a = file.Annotations[i] ?? throw new InvalidDataException($"'{file.Path}': annotations[{i}] is null.");
            string where = $"'{file.Path}': annotation {(a.Id is long id ? $"id {id} " : "")}(annotations[{i}])";
            if (a.ImageId is not long imageId)
                throw new InvalidDataException($"{where} has no 'image_id'.");
            if (!file.ImageIndexById.TryGetValue(imageId, out int row))
                throw new InvalidDataException($"{where} refers to image id {imageId}, which is not in 'images'. Add the image or remove the annotation.");
            var image = file.Images[row];
            where += $" of image id {imageId} ('{image.FileName}')";
            if (a.CategoryId is not long categoryId)
                throw new InvalidDataException($"{where} has no 'category_id'.");
            if (a.Bbox is not { Length: 4 } bb || !bb.All(double.IsFinite))
                throw new InvalidDataException($"{where} needs a 'bbox' of 4 numbers [x, y, width, height], but has {(a.Bbox == null ? "none" : Show(a.Bbox))}.");
            bool isCrowd = (a.IsCrowd ?? 0) != 0;
            if (isCrowd && !options.IncludeCrowd)
                continue;

            string? problem = null;
            if (!file.ClassIndexByCategoryId.TryGetValue(categoryId, out int classIndex))
                problem = $"has category id {categoryId}, which is not in 'categories'";
            else if (bb[2] <= 0 || bb[3] <= 0)
                problem = $"has the box {Show(bb)} of zero or negative size";
            else if (bb[0] < -options.BoundsTolerance || bb[1] < -options.BoundsTolerance
                     || bb[0] + bb[2] > image.Width + options.BoundsTolerance || bb[1] + bb[3] > image.Height + options.BoundsTolerance)
                problem = $"has the box {Show(bb)} outside the {image.Width}×{image.Height} image";
            if (problem != null)
            {
                if (options.InvalidBoxes == InvalidBoxHandling.Throw)
                    throw new InvalidDataException($"{where} {problem}. Fix the annotation, or set {nameof(CocoLoaderOptions.InvalidBoxes)} = {nameof(InvalidBoxHandling)}.{nameof(InvalidBoxHandling.SkipWithWarning)} to leave such boxes out.");
                warnings.Add($"{where} {problem}; skipped.");
                continue;
            }

            boxes[row].Add(new BoundingBox((float)bb[0], (float)bb[1], (float)(bb[0] + bb[2]), (float)(bb[1] + bb[3])));
            labels[row].Add(file.ClassNames[classIndex]);
            crowd[row].Add(isCrowd);
            // COCOeval sorts objects into small/medium/large by the annotation's area (the segment's); without one,
            // the box area is the best stand-in.
            areas[row].Add((float)(a.Area ?? bb[2] * bb[3]));
        }

        var records = new List<DetectionRecord>(n);
        for (int i = 0; i < n; i++)
        {
            var image = file.Images[i];
            string imagePath = string.IsNullOrEmpty(imagesFolder) ? image.FileName : Path.Combine(imagesFolder, image.FileName);
            if (options.CheckImagesExist && !File.Exists(imagePath))
                throw new FileNotFoundException($"'{file.Path}': image id {image.Id} is '{image.FileName}', but '{imagePath}' does not exist. Check the images folder, or set {nameof(CocoLoaderOptions.CheckImagesExist)} = false when the images are not needed.", imagePath);
            records.Add(new DetectionRecord(imagePath, boxes[i], labels[i]));
        }
        return new CocoInstances(file.ClassNames, records, file.Images.Select(im => im.Id).ToArray(),
            crowd.Select(c => c.ToArray()).ToArray(), areas.Select(a => a.ToArray()).ToArray(), warnings);
    }

    internal static string Show(double[] values)
        => "[" + string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]";
}
