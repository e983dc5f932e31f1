using System.Globalization;

namespace MLNetExtensions.Data.Yolo;

/// <summary>
/// Reads YOLO (Darknet/Ultralytics) labels: for each image in the images folder, a text file of the same name in the
/// labels folder with one <c>class cx cy w h</c> line per box, the last four normalised to [0, 1] by the image size.
/// An image without a label file has no objects (YOLO's background images). Boxes become pixel corners
/// <c>[(cx - w/2)·W, (cy - h/2)·H, (cx + w/2)·W, (cy + h/2)·H]</c>; parts that extend past the image border are
/// clipped to it, as Ultralytics does.
/// </summary>
public static class YoloReader
{
    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp" };

    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">No class names are given and no class-name file is found.</exception>
    /// <exception cref="InvalidDataException">A label line is malformed, or a box is invalid and
    /// <see cref="YoloOptions.InvalidBoxes"/> is <see cref="InvalidBoxHandling.Throw"/>.</exception>
    public static DetectionDataset Read(string imagesFolder, string labelsFolder, YoloOptions? options = null)
    {
        options ??= new YoloOptions();
        imagesFolder = ExistingFolder(imagesFolder, "Images");
        labelsFolder = ExistingFolder(labelsFolder, "Labels");
        var classNames = options.ClassNames ?? YoloClassNames.Read(options.ClassNamesFile ?? YoloClassNames.Find(labelsFolder));

        var images = Directory.EnumerateFiles(imagesFolder).Where(f => ImageExtensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToList();
        if (images.Count == 0)
            throw new InvalidDataException($"No images (.jpg, .jpeg, .png, .bmp, .gif, .webp) in '{imagesFolder}'. Give the folder that holds the images.");

        var warnings = new List<string>();
        var records = new List<DetectionRecord>(images.Count);
        var usedLabels = new HashSet<string>(StringComparer.Ordinal);
        foreach (var imagePath in images)
        {
            var labelPath = Path.Combine(labelsFolder, Path.GetFileNameWithoutExtension(imagePath) + ".txt");
            var boxes = new List<BoundingBox>();
            var labels = new List<string>();
            if (File.Exists(labelPath))
            {
                usedLabels.Add(labelPath);
                var lines = File.ReadAllLines(labelPath);
                var (width, height) = lines.Any(l => l.Trim().Length > 0) ? ImageHeader.ReadSize(imagePath) : (0, 0);
                for (int n = 0; n < lines.Length; n++)
                {
                    if (lines[n].Trim().Length == 0) continue;
                    var (cls, cx, cy, w, h) = ParseLine(lines[n], labelPath, n + 1);
                    string? problem =
                        cls < 0 || cls >= classNames.Count ? $"class index {cls} is out of range: there are {classNames.Count} classes (0 to {classNames.Count - 1}: {string.Join(", ", classNames)}). Fix the class index or the class list, or"
                        : !(InUnit(cx) && InUnit(cy) && InUnit(w) && InUnit(h)) ? "has values outside [0, 1]; YOLO labels are normalised by the image width and height. Fix the label, or"
                        : w <= 0 || h <= 0 ? "has zero width or height. Fix the label, or"
                        : null;
                    if (problem != null)
                    {
                        string message = $"'{labelPath}' line {n + 1} (\"{lines[n].Trim()}\"): {problem} set YoloOptions.InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out.";
                        if (options.InvalidBoxes == InvalidBoxHandling.Throw)
                            throw new InvalidDataException(message);
                        warnings.Add("Skipped: " + message);
                        continue;
                    }
                    boxes.Add(new BoundingBox(
                        Math.Clamp((cx - w / 2) * width, 0, width), Math.Clamp((cy - h / 2) * height, 0, height),
                        Math.Clamp((cx + w / 2) * width, 0, width), Math.Clamp((cy + h / 2) * height, 0, height)));
                    labels.Add(classNames[cls]);
                }
            }
            records.Add(new DetectionRecord(imagePath, boxes, labels));
        }

        var orphans = Directory.EnumerateFiles(labelsFolder, "*.txt").Where(f => !usedLabels.Contains(f) && !IsClassFile(f)).Order(StringComparer.Ordinal).ToList();
        if (orphans.Count > 0)
            warnings.Add($"{orphans.Count} label file(s) in '{labelsFolder}' have no image in '{imagesFolder}' and were not read, e.g. '{orphans[0]}'.");
        return new DetectionDataset(records, classNames, warnings);
    }

    private static (int Class, float Cx, float Cy, float W, float H) ParseLine(string line, string labelPath, int lineNumber)
    {
        var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        string Malformed(string problem)
            => $"'{labelPath}' line {lineNumber} (\"{line.Trim()}\"): {problem}. Each line must be 'class cx cy w h': an integer class index and four numbers in [0, 1]. Fix the line.";
        if (parts.Length != 5)
            throw new InvalidDataException(Malformed(parts.Length > 5 && parts.Length % 2 == 1
                ? $"{parts.Length} values; this looks like a polygon (segment) label, which this reader does not read"
                : $"{parts.Length} values instead of 5"));
        if (!int.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int cls))
            throw new InvalidDataException(Malformed($"the class index '{parts[0]}' is not an integer"));
        var v = new float[4];
        for (int i = 0; i < 4; i++)
            if (!float.TryParse(parts[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !float.IsFinite(v[i]))
                throw new InvalidDataException(Malformed($"'{parts[i + 1]}' is not a number"));
        return (cls, v[0], v[1], v[2], v[3]);
    }

    private static bool InUnit(float v) => v >= 0 && v <= 1;

    private static bool IsClassFile(string path) => Path.GetFileName(path) is "classes.txt";

    private static string ExistingFolder(string folder, string what)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"{what} folder '{full}' not found.");
        return full;
    }
}
