namespace MLNetExtensions.Data.Voc;

/// <summary>
/// Reads a Pascal VOC folder (<c>ImageSets/</c>, <c>Annotations/</c>, <c>JPEGImages/</c>, <c>SegmentationClass/</c>).
/// <para>Box convention: VOC writes boxes as 1-based, inclusive pixel indices (a box covering only the top-left pixel
/// is xmin = ymin = xmax = ymax = 1). They are returned as continuous pixel coordinates, where pixel i spans [i, i+1):
/// <c>[xmin - 1, ymin - 1, xmax, ymax]</c>, so width = xmax - xmin + 1 is the number of pixels covered, and a box
/// covering the whole W×H image is [0, 0, W, H]. Add 1 to xmin and ymin to get VOC numbers back.</para>
/// </summary>
public static class PascalVocReader
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp"];

    /// <summary>Reads the detection annotations of <c>ImageSets/Main/{imageSet}.txt</c>.</summary>
    /// <exception cref="DirectoryNotFoundException">The VOC root does not exist.</exception>
    /// <exception cref="FileNotFoundException">The image set list, an annotation or an image is missing.</exception>
    /// <exception cref="InvalidDataException">An annotation is malformed, or a box is invalid and
    /// <see cref="PascalVocOptions.InvalidBoxes"/> is <see cref="InvalidBoxHandling.Throw"/>.</exception>
    public static DetectionDataset ReadDetection(string vocRoot, string imageSet = "train", PascalVocOptions? options = null)
    {
        options ??= new PascalVocOptions();
        vocRoot = FullRoot(vocRoot);
        if (options.DiscoverClasses && options.ClassNames != null)
            throw new ArgumentException("Set either PascalVocOptions.ClassNames or DiscoverClasses, not both.", nameof(options));
        var ids = ReadImageSet(vocRoot, "Main", imageSet);

        var annotations = new List<(string Id, string XmlPath, PascalVocAnnotation Annotation)>(ids.Count);
        foreach (var (id, listPath) in ids)
        {
            var xmlPath = Path.Combine(vocRoot, "Annotations", id + ".xml");
            if (!File.Exists(xmlPath))
                throw new FileNotFoundException($"Annotation '{xmlPath}' not found; '{id}' is listed in '{listPath}'. Add the annotation or remove the id from the list.", xmlPath);
            annotations.Add((id, xmlPath, PascalVocAnnotation.Load(xmlPath)));
        }

        IReadOnlyList<string> classNames = options.DiscoverClasses
            ? annotations.SelectMany(a => a.Annotation.Objects).Select(o => o.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray()
            : options.ClassNames ?? PascalVocClasses.Detection;
        if (classNames.Count == 0)
            throw new InvalidDataException($"No objects in the annotations of '{ids[0].ListPath}', so no classes to discover. Give PascalVocOptions.ClassNames instead.");
        var known = new HashSet<string>(classNames, StringComparer.Ordinal);

        var warnings = new List<string>();
        var records = new List<DetectionRecord>(annotations.Count);
        foreach (var (id, xmlPath, ann) in annotations)
        {
            var imagePath = FindImage(vocRoot, id, ann.FileName, xmlPath);
            var (width, height) = ann.Width is int w && ann.Height is int h ? (w, h) : ImageHeader.ReadSize(imagePath);
            var boxes = new List<BoundingBox>();
            var labels = new List<string>();
            var difficult = new List<bool>();
            for (int i = 0; i < ann.Objects.Count; i++)
            {
                var o = ann.Objects[i];
                if (o.Difficult && !options.IncludeDifficult) continue;
                // 1-based inclusive indices -> continuous coordinates (see the class remarks).
                var box = new BoundingBox(o.XMin - 1, o.YMin - 1, o.XMax, o.YMax);
                string? problem = null;
                if (!known.Contains(o.Name))
                    problem = $"has the class '{o.Name}', which is not in the class list ({string.Join(", ", classNames)}). " +
                              "Add it to PascalVocOptions.ClassNames (or set DiscoverClasses = true), or";
                else if (box.Width <= 0 || box.Height <= 0)
                    problem = $"has zero or negative size (xmax must be >= xmin and ymax >= ymin in VOC's inclusive indices). Fix the annotation, or";
                else if (box.XMin < 0 || box.YMin < 0 || box.XMax > width || box.YMax > height)
                    problem = $"lies outside the {width}x{height} image (VOC boxes run from 1 to the width/height). Fix the annotation, or";
                if (problem != null)
                {
                    string message = $"'{xmlPath}': object {i} ('{o.Name}', box xmin={o.XMin}, ymin={o.YMin}, xmax={o.XMax}, ymax={o.YMax}) {problem} " +
                                     "set PascalVocOptions.InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out.";
                    if (options.InvalidBoxes == InvalidBoxHandling.Throw)
                        throw new InvalidDataException(message);
                    warnings.Add("Skipped: " + message);
                    continue;
                }
                boxes.Add(box);
                labels.Add(o.Name);
                difficult.Add(o.Difficult);
            }
            records.Add(new DetectionRecord(imagePath, boxes, labels, difficult));
        }
        return new DetectionDataset(records, classNames, warnings);
    }

    /// <summary>Reads the image/mask pairs of <c>ImageSets/Segmentation/{imageSet}.txt</c>.</summary>
    /// <exception cref="FileNotFoundException">The list, an image or a mask is missing.</exception>
    /// <exception cref="InvalidDataException">A mask's size differs from its image's.</exception>
    public static IReadOnlyList<SegmentationRecord> ReadSegmentation(string vocRoot, string imageSet = "train", PascalVocSegmentationOptions? options = null)
    {
        options ??= new PascalVocSegmentationOptions();
        vocRoot = FullRoot(vocRoot);
        var records = new List<SegmentationRecord>();
        foreach (var (id, listPath) in ReadImageSet(vocRoot, "Segmentation", imageSet))
        {
            var maskPath = Path.GetFullPath(Path.Combine(vocRoot, options.MaskFolder, id + ".png"));
            if (!File.Exists(maskPath))
                throw new FileNotFoundException($"Mask '{maskPath}' not found; '{id}' is listed in '{listPath}'. Add the mask or remove the id from the list.", maskPath);
            var imagePath = FindImage(vocRoot, id, null, listPath);
            if (options.CheckSizes)
            {
                var image = ImageHeader.ReadSize(imagePath);
                var mask = ImageHeader.ReadSize(maskPath);
                if (image != mask)
                    throw new InvalidDataException($"'{maskPath}' is {mask.Width}x{mask.Height} but its image '{imagePath}' is {image.Width}x{image.Height}. " +
                                                   "A mask must have its image's size; re-export the mask at the image's size.");
            }
            records.Add(new SegmentationRecord(imagePath, maskPath));
        }
        return records;
    }

    private static string FullRoot(string vocRoot)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vocRoot);
        return Path.GetFullPath(vocRoot);
    }

    /// <summary>The ids of <c>ImageSets/{task}/{imageSet}.txt</c>, each with the list's path for messages.</summary>
    private static List<(string Id, string ListPath)> ReadImageSet(string vocRoot, string task, string imageSet)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageSet);
        if (!Directory.Exists(vocRoot))
            throw new DirectoryNotFoundException($"VOC folder '{vocRoot}' not found. Give the folder that holds ImageSets/, Annotations/ and JPEGImages/ (e.g. VOCdevkit/VOC2012).");
        var listPath = Path.GetFullPath(Path.Combine(vocRoot, "ImageSets", task, imageSet + ".txt"));
        if (!File.Exists(listPath))
        {
            var dir = Path.GetDirectoryName(listPath)!;
            var available = Directory.Exists(dir) ? string.Join(", ", Directory.GetFiles(dir, "*.txt").Select(Path.GetFileNameWithoutExtension).Order()) : "none";
            throw new FileNotFoundException($"Image set list '{listPath}' not found (image sets there: {available}). Check the image set name and the VOC folder.", listPath);
        }
        var ids = new List<(string, string)>();
        foreach (var line in File.ReadLines(listPath))
        {
            // Lists hold one id per line; per-class lists add a column (1/-1/0) after it.
            var id = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (id != null) ids.Add((id, listPath));
        }
        if (ids.Count == 0)
            throw new InvalidDataException($"Image set list '{listPath}' is empty. List one image id per line.");
        return ids;
    }

    private static string FindImage(string vocRoot, string id, string? fileNameFromXml, string listedIn)
    {
        var folder = Path.GetFullPath(Path.Combine(vocRoot, "JPEGImages"));
        foreach (var ext in ImageExtensions)
        {
            var candidate = Path.Combine(folder, id + ext);
            if (File.Exists(candidate)) return candidate;
        }
        // Only the file name of <filename> counts: the image must be in JPEGImages whatever the XML says.
        if (!string.IsNullOrEmpty(fileNameFromXml) && File.Exists(Path.Combine(folder, Path.GetFileName(fileNameFromXml))))
            return Path.Combine(folder, Path.GetFileName(fileNameFromXml));
        var expected = Path.Combine(folder, id + ".jpg");
        var also = string.IsNullOrEmpty(fileNameFromXml) ? "" : $", nor '{fileNameFromXml}' (the <filename> of the annotation)";
        throw new FileNotFoundException($"Image '{expected}' not found (nor with {string.Join(", ", ImageExtensions.Skip(1))}{also}); it is needed by '{listedIn}'. Add the image or remove '{id}' from the image set list.", expected);
    }
}
