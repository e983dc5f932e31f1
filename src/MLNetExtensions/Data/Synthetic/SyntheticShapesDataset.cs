using System.Security.Cryptography;
using System.Text;
using MLNetExtensions.Data.Masks;

namespace MLNetExtensions.Data.Synthetic;

/// <summary>
/// A built-in detection and segmentation dataset of coloured shapes (circle, square, triangle, star, cross) on
/// cluttered backgrounds, generated from a seed in a Pascal VOC layout, so the quickstart, notebooks and tests need
/// no download and read it with the same VOC reader as real data:
/// <code>
/// var root = SyntheticShapesDataset.EnsureBuiltIn();
/// var train = mlContext.Data.LoadFromPascalVoc(root, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
/// var segTrain = mlContext.Data.LoadFromPascalVocSegmentation(root, "train");
/// </code>
/// Layout: <c>JPEGImages/{id}.png</c> (lossless PNG despite the folder name, as VOC readers look there),
/// <c>Annotations/{id}.xml</c>, <c>SegmentationClass/{id}.png</c> (palette masks: 0 background, class i + 1,
/// 255 void along object borders) and <c>ImageSets/Main|Segmentation/{train,val,test,trainval}.txt</c>.
/// </summary>
public static class SyntheticShapesDataset
{
    /// <summary>Bumped whenever the generator changes what it writes, so <see cref="EnsureBuiltIn"/> regenerates.</summary>
    internal const int GeneratorVersion = 1;

    /// <summary>The file <see cref="EnsureBuiltIn"/> writes last, holding the options' fingerprint and its hash.</summary>
    public const string MarkerFileName = ".synthetic-shapes";

    private static readonly string[] Splits = ["train", "val", "test"];
    private static readonly string[] OwnedFolders = ["JPEGImages", "Annotations", "SegmentationClass", "ImageSets"];

    /// <summary>The class names of the default dataset: circle, square, triangle, star, cross (label keys 1-5, mask indices 1-5).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new SyntheticShapesOptions().ClassNames;

    /// <summary>The segmentation class names of the default dataset: "background" then <see cref="ClassNames"/>.</summary>
    public static IReadOnlyList<string> SegmentationClassNames { get; } = ["background", .. ClassNames];

    /// <summary>The folder <see cref="EnsureBuiltIn"/> uses when given none: <c>MLNetExtensions/datasets/synthetic-shapes</c>
    /// under the user's local application data folder.</summary>
    public static string DefaultFolder => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
        "MLNetExtensions", "datasets", "synthetic-shapes");

    /// <summary>
    /// Writes the default dataset into <paramref name="folder"/> unless it is already there, and returns the folder's
    /// full path. Idempotent and cheap the second time: a marker file holds the hash of the options it was made with.
    /// </summary>
    /// <param name="folder">The dataset folder; null means <see cref="DefaultFolder"/>.</param>
    /// <exception cref="IOException">The folder holds other files and no marker, so it is not ours to overwrite.</exception>
    public static string EnsureBuiltIn(string? folder = null) => Ensure(folder ?? DefaultFolder, new SyntheticShapesOptions());

    /// <summary>Same as <see cref="EnsureBuiltIn"/> with other options (a different size, seed, or number of images).</summary>
    public static string Ensure(string folder, SyntheticShapesOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(options);
        folder = Path.GetFullPath(folder);
        string marker = MarkerText(options);
        var markerPath = Path.Combine(folder, MarkerFileName);
        if (File.Exists(markerPath) && File.ReadAllText(markerPath) == marker)
            return folder;

        if (Directory.Exists(folder) && !File.Exists(markerPath) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new IOException($"'{folder}' is not empty and holds no synthetic dataset (no {MarkerFileName} file), so it is left alone. " +
                                  "Give an empty or new folder.");

        // Write into a fresh sibling folder, then move it in, so a reader never sees half a dataset and two
        // processes generating at once both end with a complete one.
        var staging = folder.TrimEnd(Path.DirectorySeparatorChar) + $".partial-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Write(staging, options);
            File.WriteAllText(Path.Combine(staging, MarkerFileName), marker);
            if (!Directory.Exists(folder))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
                try
                {
                    Directory.Move(staging, folder);
                    return folder;
                }
                catch (IOException) when (Directory.Exists(folder))
                {
                    // Another process created the folder between our check and our move: replace its contents below.
                }
            }
            if (File.Exists(markerPath) && File.ReadAllText(markerPath) == marker)
                return folder; // someone else finished the same dataset first
            // An older dataset (other options or generator version): replace what it owns, marker last.
            File.Delete(markerPath);
            foreach (var owned in OwnedFolders)
            {
                var target = Path.Combine(folder, owned);
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                Directory.Move(Path.Combine(staging, owned), target);
            }
            File.Move(Path.Combine(staging, MarkerFileName), markerPath);
            return folder;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Generates the dataset into <paramref name="folder"/> (created if needed; files of the same name are replaced).
    /// The same options always give byte-identical files.
    /// </summary>
    public static void Write(string folder, SyntheticShapesOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        options ??= new SyntheticShapesOptions();
        if (options.MinObjectSize > 0.8 * options.ImageSize)
            throw new ArgumentException($"MinObjectSize {options.MinObjectSize} is larger than the largest object (80% of ImageSize {options.ImageSize}).", nameof(options));
        foreach (var sub in new[] { "JPEGImages", "Annotations", "SegmentationClass", Path.Combine("ImageSets", "Main"), Path.Combine("ImageSets", "Segmentation") })
            Directory.CreateDirectory(Path.Combine(folder, sub));

        var classNames = options.ClassNames;
        int[] counts = [options.TrainImages, options.ValidationImages, options.TestImages];
        var ids = new List<string>[Splits.Length];
        for (int s = 0; s < Splits.Length; s++)
        {
            int split = s;
            ids[s] = Enumerable.Range(0, counts[s]).Select(i => $"{Splits[split]}_{i:D5}").ToList();
            // Each image has its own generator, seeded by (seed, split, index): images do not depend on each other,
            // so they can be made in parallel and stay the same when the other splits change size.
            Parallel.For(0, counts[s], i =>
            {
                var scene = SceneComposer.Render(options, SplitMix64.For(options.Seed, split, i));
                string id = ids[split][i];
                SaveRgb(Path.Combine(folder, "JPEGImages", id + ".png"), scene.Rgb, scene.Size);
                scene.Mask.Save(Path.Combine(folder, "SegmentationClass", id + ".png"));
                VocAnnotationWriter.Write(Path.Combine(folder, "Annotations", id + ".xml"), id + ".png", scene, classNames, options.Shapes);
            });
        }
        foreach (var task in new[] { "Main", "Segmentation" })
        {
            for (int s = 0; s < Splits.Length; s++)
                WriteList(Path.Combine(folder, "ImageSets", task, Splits[s] + ".txt"), ids[s]);
            WriteList(Path.Combine(folder, "ImageSets", task, "trainval.txt"), [.. ids[0], .. ids[1]]);
        }
    }

    // MLImage.Save (SkiaSharp) writes RGBA at zlib's default level, about 7x slower on these noisy images than this
    // RGB encoder at its fastest level; the files read the same through MLImage.CreateFromFile.
    private static void SaveRgb(string path, byte[] rgb, int size)
        => File.WriteAllBytes(path, PngEncoder.EncodeRgb(size, size, rgb));

    private static void WriteList(string path, IEnumerable<string> ids)
        => File.WriteAllText(path, string.Concat(ids.Select(id => id + "\n")));

    private static string MarkerText(SyntheticShapesOptions options)
    {
        var fingerprint = options.Fingerprint(GeneratorVersion);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint)));
        return $"{hash}\n{fingerprint}\n";
    }
}
