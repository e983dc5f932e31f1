using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>One image's targets: boxes as corners relative to the image (0..1), (N, 4), and 1-based class ids.</summary>
internal sealed record DetectionTarget(float[] Boxes, long[] Labels)
{
    public int Count => Labels.Length;
}

/// <summary>
/// A detection dataset: every row's image path and boxes relative to the image, checked once, so bad data fails before
/// the first step with the row and the file named; and, when held, every image's pixels in memory at the network's
/// input size as bytes. A set made without its pixels is streamed from its files (<see cref="DetectionBatchStream"/>), or
/// decoded batch by batch when <see cref="Batch"/> reads it (<see cref="DecodeOnDemand"/>: a validation set).
/// </summary>
internal sealed class DetectionTrainingSet
{
    private readonly List<byte[]>? _pixels;
    private readonly List<DetectionTarget> _targets;

    private DetectionTrainingSet(NetworkInput input, string[] classNames, List<string> paths, List<(int Width, int Height)> sizes, List<byte[]>? pixels, List<DetectionTarget> targets, string dataName, string contentHash)
    {
        Input = input; ClassNames = classNames; Paths = paths; Sizes = sizes; _pixels = pixels; _targets = targets; DataName = dataName; _contentHash = contentHash;
    }

    public NetworkInput Input { get; }
    public string[] ClassNames { get; }
    public List<string> Paths { get; }
    /// <summary>Each image's own width and height in pixels.</summary>
    public List<(int Width, int Height)> Sizes { get; }
    public int Count => _targets.Count;
    public IReadOnlyList<DetectionTarget> Targets => _targets;

    /// <summary>What messages call the data ("training data", "validation data").</summary>
    public string DataName { get; }

    /// <summary>Whether the pixels of every image are held in memory (<see cref="PixelsOf"/>, <see cref="Batch"/>).</summary>
    public bool HoldsPixels => _pixels != null;

    /// <summary>Image <paramref name="i"/>'s (C, H, W) pixels at the network's input size.</summary>
    public byte[] PixelsOf(int i) => (_pixels ?? throw new InvalidOperationException("This training set streams its pixels from the files; it holds none."))[i];

    private readonly string _contentHash;

    /// <summary>A short hash of the image files' bytes and the targets, for a checkpoint's fingerprint (the files, not the
    /// decoded pixels: a streamed set has no pixels to hash, and both kinds must agree). Computed by <see cref="Create"/>
    /// from the bytes it checks, so no file is read again: per row the file's length and bytes, then its boxes and labels,
    /// in row order (<see cref="TrainingDataHash"/>).</summary>
    public string ContentHash() => _contentHash;

    /// <summary>Rows a thread checks at once; their files' bytes are held until hashed in row order.</summary>
    private const int CheckChunkPerThread = 16;

    /// <summary>The rows of <paramref name="data"/>, checked; with <paramref name="holdPixels"/> every image decoded up front
    /// and its pixels held, else only the paths and targets, for a <see cref="DetectionBatchStream"/> to decode from the files.
    /// Each image file is read once, on up to <paramref name="checkThreads"/> threads (0: the core count): its structure
    /// checked (<see cref="ImageFileIntegrity.Check"/>: a truncated PNG or JPEG fails here; the workers decode it), or, when
    /// its pixels are held, decoded completely (<see cref="ImageFileDecoder.Decode(string, byte[], bool)"/>), its boxes
    /// checked against its size, and its bytes hashed for
    /// <see cref="ContentHash"/>. When several rows are bad, the lowest one is reported, whatever the threads.</summary>
    public static DetectionTrainingSet Create(MLContext ml, IDataView data, NetworkInput input,
        string imagePathColumn, string boxesColumn, string labelsColumn, string? dataName = "training data", bool holdPixels = true,
        int checkThreads = 0)
    {
        var classNames = DetectionDataView.GetClassNames(data.Schema, labelsColumn);
        var records = DetectionDataView.ReadRecords(data, imagePathColumn, boxesColumn, labelsColumn, difficultColumn: null);
        if (records.Count == 0)
            throw new InvalidOperationException($"The {dataName} has no rows. Give at least one image with its boxes.");
        var index = classNames.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => (long)t.i + 1);
        var targets = new DetectionTarget[records.Count];
        var sizes = new (int Width, int Height)[records.Count];
        var pixels = holdPixels ? new byte[records.Count][] : null;
        using var hash = new TrainingDataHash();
        ParallelRows.InRowOrder(records.Count, checkThreads, CheckChunkPerThread,
            row => CheckRow(row, records[row], index, dataName, holdPixels ? input : null),
            (row, checkedRow) =>
            {
                (targets[row], sizes[row]) = (checkedRow.Target, checkedRow.Size);
                if (pixels != null) pixels[row] = checkedRow.Pixels!;
                hash.Add(checkedRow.Bytes);   // its length, then its bytes: as the file's own (TrainingDataHash.AddFile)
                hash.Add<float>(checkedRow.Target.Boxes);
                hash.Add<long>(checkedRow.Target.Labels);
            });
        var paths = records.Select(r => r.ImagePath).ToList();
        return new DetectionTrainingSet(input, classNames, paths, [.. sizes], pixels?.ToList(), [.. targets], dataName ?? "training data", hash.Finish());
    }

    /// <summary>Row <paramref name="row"/> checked: its file read once and its structure checked (decoded completely with
    /// <paramref name="hold"/>), its boxes inside the image;
    /// the file's bytes, the row's target, the image's size and, with <paramref name="hold"/>, its pixels at that input's
    /// size (<see cref="NetworkInput.Resize"/> of the same decode, the pixels <see cref="NetworkInput.ReadPixels"/> gives).
    /// Throws <see cref="InvalidDataException"/> naming the row and the file.</summary>
    private static (byte[] Bytes, DetectionTarget Target, (int Width, int Height) Size, byte[]? Pixels) CheckRow(int row, DetectionRecord r,
        Dictionary<string, long> index, string? dataName, NetworkInput? hold)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(r.ImagePath);
            ImageHeader.ReadSize(r.ImagePath, file);   // a format without a parsed header is opened as before, with its error
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Row {row} of the {dataName}: image '{r.ImagePath}' cannot be read: {ex.Message}", ex);
        }
        (int w, int h) size;
        byte[]? pixels = null;
        try
        {
            if (hold == null) size = ImageFileIntegrity.Check(r.ImagePath, file);   // its structure: the workers decode it
            else
            {
                var image = ImageFileDecoder.Decode(r.ImagePath, file, hold.Grayscale);
                size = (image.Width, image.Height);
                pixels = hold.Resize(image);
            }
        }
        catch (InvalidDataException ex) { throw new InvalidDataException($"Row {row} of the {dataName}: {ex.Message}", ex); }
        var boxes = new float[r.Boxes.Count * 4];
        var labels = new long[r.Boxes.Count];
        for (int i = 0; i < r.Boxes.Count; i++)
        {
            var b = r.Boxes[i];
            if (!(b.XMax > b.XMin && b.YMax > b.YMin))
                throw new InvalidDataException($"Row {row} of the {dataName} ('{r.ImagePath}'): box {i} {b} has zero or negative size. Fix or drop the box.");
            const float slack = 1f; // a pixel of rounding in annotations is common and harmless
            if (b.XMin < -slack || b.YMin < -slack || b.XMax > size.w + slack || b.YMax > size.h + slack)
                throw new InvalidDataException($"Row {row} of the {dataName} ('{r.ImagePath}'): box {i} {b} lies outside the {size.w}×{size.h} image. Fix the annotation or clip the box.");
            boxes[4 * i] = Math.Clamp(b.XMin / size.w, 0f, 1f);
            boxes[4 * i + 1] = Math.Clamp(b.YMin / size.h, 0f, 1f);
            boxes[4 * i + 2] = Math.Clamp(b.XMax / size.w, 0f, 1f);
            boxes[4 * i + 3] = Math.Clamp(b.YMax / size.h, 0f, 1f);
            labels[i] = index[r.Labels[i]];
        }
        return (file, new DetectionTarget(boxes, labels), size, pixels);
    }

    /// <summary>A streamed set's input-size pixels kept after their first decode (<see cref="DecodeOnDemand"/>), or null.</summary>
    private byte[]?[]? _decoded;
    private int _decodeThreads = 1;

    /// <summary>Lets <see cref="Batch"/> read a set made without its pixels (a validation set): each batch's images
    /// decoded from their files on up to <paramref name="threads"/> threads (0: the core count), to the pixels a held set
    /// has, and kept after their first decode when the whole set at the input size fits <paramref name="budget"/> bytes
    /// (<c>PixelCacheBytes</c>; 0: never kept). The choice goes to <paramref name="log"/>.</summary>
    public void DecodeOnDemand(int threads, long budget, IHostEnvironment? log, string logSource)
    {
        if (HoldsPixels) return;
        _decodeThreads = StreamedSteps.DecodeThreads(threads);
        long bytes = (long)Count * Input.Channels * Input.Height * Input.Width;
        _decoded = StreamedSteps.KeepsOnDemand(DataName, "images", "at the input size", Count, bytes, budget, _decodeThreads, log, logSource) ? new byte[Count][] : null;
    }

    /// <summary>The images of <paramref name="indices"/> as (B, C, H, W) float pixels in [0, 255], with their targets,
    /// augmented when <paramref name="augmentation"/> is given: held pixels, or, for a set made without them, decoded
    /// now (<see cref="DecodeOnDemand"/>; a file that fails names its row).</summary>
    public (Tensor Images, List<DetectionTarget> Targets) Batch(IReadOnlyList<int> indices, DetectionAugmentation? augmentation, Random rng, Device device)
    {
        int size = Input.Channels * Input.Height * Input.Width;
        var pixels = ParallelRows.Read(indices, _decodeThreads, Pixels);
        var all = new float[indices.Count * size];
        var targets = new List<DetectionTarget>(indices.Count);
        DecodedImage Image(byte[] p) => new(p, Input.Width, Input.Height, Input.Channels);
        for (int b = 0; b < indices.Count; b++)
        {
            var own = pixels[b];
            int row = indices[b];
            // A mosaic also reads three other rows.
            targets.Add(Sample(r => Image(r == row ? own : Pixels(r)), row, augmentation, rng, all.AsSpan(b * size, size)));
        }
        return (tensor(all, [indices.Count, Input.Channels, Input.Height, Input.Width], device: device), targets);
    }

    /// <summary>Row <paramref name="i"/>'s (C, H, W) input-size pixels: held, kept after their first decode, or from its
    /// file now (<see cref="NetworkInput.Resize"/> of <see cref="NetworkInput.Decode"/>: what a held set keeps; a set made
    /// without its pixels needs <see cref="DecodeOnDemand"/> first).</summary>
    public byte[] Pixels(int i)
    {
        if (HoldsPixels) return PixelsOf(i);
        if (_decoded?[i] is { } kept) return kept;
        var pixels = StreamedSteps.ReadRow(i, DataName, $"image '{Paths[i]}'", () => Input.Resize(Input.Decode(Paths[i])));
        if (_decoded != null) _decoded[i] = pixels;
        return pixels;
    }

    /// <summary>Image <paramref name="i"/> from <paramref name="images"/> (each row's original or held input-size pixels)
    /// written into <paramref name="output"/> as float pixels in [0, 255] at <paramref name="input"/>'s size (the set's
    /// input when null), augmented when <paramref name="augmentation"/> is given (<see cref="DetectionPixelAugmenter"/>;
    /// a mosaic also reads three rows drawn from <paramref name="rng"/>); returns its target, moved with the pixels.</summary>
    public DetectionTarget Sample(Func<int, DecodedImage> images, int i, DetectionAugmentation? augmentation, Random rng, Span<float> output, NetworkInput? input = null)
    {
        input ??= Input;
        if (augmentation is { Mosaic: > 0 } && rng.NextDouble() < augmentation.Mosaic)
        {
            int[] rows = [i, rng.Next(Count), rng.Next(Count), rng.Next(Count)];
            return DetectionPixelAugmenter.Mosaic(rows.Select(r => (images(r), _targets[r])).ToArray(), input, augmentation, rng, output);
        }
        return DetectionPixelAugmenter.Apply(images(i), input, _targets[i], augmentation, rng, output);
    }
}
