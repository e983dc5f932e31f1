using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training.HeldScalars;
using MLNetExtensions.Torch.Training;
using AntialiasedBilinear = MLNetExtensions.Transforms.ImageMath.AntialiasedBilinear;
using MaskOps = MLNetExtensions.Transforms.ImageMath.MaskOps;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// A segmentation dataset: each image decoded by the scoring chain's decoder (<see cref="NetworkInput.Decode"/>) and
/// its mask at their own size, held in memory or (for a <see cref="SegmentationBatchStream"/>) decoded again from the
/// files when needed, so the scale augmentation resamples the original pixels (a 2× zoom keeps the detail of a large
/// photo instead of enlarging an already shrunk image). Images reach the input size with the scoring filter
/// (<see cref="AntialiasedBilinear"/>: with no scale change they are the pixels scoring reads), masks by nearest
/// neighbour (class indices must never blend). Every row is checked once, so bad data fails before the first step with
/// the row and the file named.
/// </summary>
internal sealed class SegmentationTrainingSet
{
    private readonly List<DecodedImage>? _images;
    private readonly List<SegmentationMask>? _masks;
    private readonly string _contentHash;

    private SegmentationTrainingSet(NetworkInput input, string[] classNames, List<string> imagePaths, List<string> maskPaths,
        List<(int Width, int Height)> sizes, List<DecodedImage>? images, List<SegmentationMask>? masks, string dataName, string contentHash)
    {
        Input = input; ClassNames = classNames; ImagePaths = imagePaths; MaskPaths = maskPaths; Sizes = sizes;
        _images = images; _masks = masks; DataName = dataName; _contentHash = contentHash;
    }

    public NetworkInput Input { get; }
    public string[] ClassNames { get; }
    public List<string> ImagePaths { get; }
    public List<string> MaskPaths { get; }
    /// <summary>Each image's own size (its mask's too).</summary>
    public List<(int Width, int Height)> Sizes { get; }
    public int Count => ImagePaths.Count;
    /// <summary>"training data" or "validation data", for messages.</summary>
    public string DataName { get; }
    /// <summary>Whether the decoded images and masks are held (else a stream decodes them from the files).</summary>
    public bool HoldsImages => _images != null;

    /// <summary>A short hash of the image files' bytes and the decoded masks, for a checkpoint's fingerprint (the image
    /// files, not their pixels: a streamed set does not decode them at its check, and both kinds must agree). Taken during
    /// the check: per row the image file's length and bytes, then the mask's class indices, in row order.</summary>
    public string ContentHash() => _contentHash;

    private List<DecodedImage> Images => _images ?? throw new InvalidOperationException("This training set streams its images from the files; it holds none.");
    private List<SegmentationMask> Masks => _masks ?? throw new InvalidOperationException("This training set streams its masks from the files; it holds none.");

    /// <summary>The mask of row <paramref name="i"/> at the input size, row-major.</summary>
    public byte[] Mask(int i)
    {
        var mask = HoldsImages ? Masks[i] : _kept?[i]?.Mask ?? ReadMask(i);
        return MaskOps.ResizeNearest(mask.Pixels, mask.Width, mask.Height, Input.Width, Input.Height);
    }

    /// <summary>Row <paramref name="index"/>'s image decoded from its file; a failure names the row and the file.</summary>
    public DecodedImage ReadImage(int index)
        => StreamedSteps.ReadRow(index, DataName, $"image '{ImagePaths[index]}'", () => Input.Decode(ImagePaths[index]));

    /// <summary>Row <paramref name="index"/>'s mask decoded from its file; a failure names the row and the file.</summary>
    public SegmentationMask ReadMask(int index)
        => StreamedSteps.ReadRow(index, DataName, $"mask '{MaskPaths[index]}'", () => SegmentationMask.CreateFromFile(MaskPaths[index]));

    /// <summary>A set read without its images' decoded rows kept after their first read (<see cref="DecodeOnDemand"/>), or null.</summary>
    private (DecodedImage Image, SegmentationMask Mask)?[]? _kept;
    private int _decodeThreads = 1;

    /// <summary>Lets <see cref="Batch"/> and <see cref="Mask"/> read a set made without its images (a validation set):
    /// each row's image and mask decoded from their files when read, a batch's rows on up to <paramref name="threads"/>
    /// threads (0: the core count), and kept at their own size after their first read when all of them fit
    /// <paramref name="budget"/> bytes (<c>PixelCacheBytes</c>; 0: never kept). The choice goes to <paramref name="log"/>.</summary>
    public void DecodeOnDemand(int threads, long budget, IHostEnvironment? log, string logSource)
    {
        if (HoldsImages) return;
        _decodeThreads = StreamedSteps.DecodeThreads(threads);
        long bytes = DecodedImageCache.BytesFor(Sizes, Input.Channels + 1);   // the pixels and the mask's byte
        _kept = StreamedSteps.KeepsOnDemand(DataName, "images and masks", "at their own size", Count, bytes, budget, _decodeThreads, log, logSource)
            ? new (DecodedImage, SegmentationMask)?[Count] : null;
    }

    /// <summary>Row <paramref name="i"/>'s image and mask: held, kept, or decoded now.</summary>
    private (DecodedImage Image, SegmentationMask Mask) Row(int i)
    {
        if (HoldsImages) return (Images[i], Masks[i]);
        if (_kept?[i] is { } kept) return kept;
        var row = (ReadImage(i), ReadMask(i));
        if (_kept != null) _kept[i] = row;
        return row;
    }

    /// <summary>Rows a thread checks at once; their files' bytes and masks are held until hashed in row order.</summary>
    private const int CheckChunkPerThread = 8;

    /// <summary>Reads and checks the rows. Class names: <paramref name="classNames"/>, or "0".."K-1" with K the largest index seen plus one.
    /// Each row's files are read once, on up to <paramref name="checkThreads"/> threads (0: the core count): its mask
    /// decoded (its classes and size are checked), its image's structure checked (<see cref="ImageFileIntegrity.Check"/>:
    /// a truncated PNG or JPEG fails here; the workers decode it), or, with <paramref name="holdImages"/>, the image decoded
    /// and held with its mask. The hash, the classes and the errors are taken in row order, so they do not depend on the
    /// threads (of several bad rows the lowest is reported).</summary>
    public static SegmentationTrainingSet Create(MLContext ml, IDataView data, NetworkInput input, string imagePathColumn, string maskPathColumn,
        IReadOnlyList<string>? classNames, string dataName = "training data", bool holdImages = true, int checkThreads = 0)
    {
        var (images, maskFiles) = ReadPaths(data, imagePathColumn, maskPathColumn);
        if (images.Count == 0)
            throw new InvalidOperationException($"The {dataName} has no rows. Give at least one image with its mask.");
        var masks = holdImages ? new List<SegmentationMask>(images.Count) : null;
        var decoded = holdImages ? new List<DecodedImage>(images.Count) : null;
        var sizes = new List<(int Width, int Height)>(images.Count);
        using var hash = new TrainingDataHash();
        int maxIndex = 0;
        var firstSeen = new (int Row, int Pixel)?[256];   // where each mask value first appears
        ParallelRows.InRowOrder(images.Count, checkThreads, CheckChunkPerThread,
            row => ReadRowForCheck(row, images, maskFiles, holdImages ? input : null, dataName),
            (row, checkedRow) =>
            {
                var (file, size, image, mask) = checkedRow;
                hash.Add(file);   // its length, then its bytes: as the file's own (TrainingDataHash.AddFile)
                if (mask.Width != size.Width || mask.Height != size.Height)
                    throw new InvalidDataException($"Row {row} of the {dataName}: the mask '{maskFiles[row]}' is {mask.Width}×{mask.Height} but the image '{images[row]}' is {size.Width}×{size.Height}. A mask must have its image's size.");
                for (int i = 0; i < mask.Pixels.Length; i++)
                {
                    int v = mask.Pixels[i];
                    if (v == SegmentationColumns.IgnoreIndex) continue;
                    if (classNames != null && v >= classNames.Count)
                        throw new InvalidDataException($"Row {row} of the {dataName}: mask '{maskFiles[row]}' pixel (x={i % mask.Width}, y={i / mask.Width}) is {v}, but there are {classNames.Count} classes (0..{classNames.Count - 1}, 255 = ignore). Give all class names, or fix the mask.");
                    maxIndex = Math.Max(maxIndex, v);
                    firstSeen[v] ??= (row, i);
                }
                decoded?.Add(image!);
                masks?.Add(mask);
                hash.Add(mask.Pixels);
                sizes.Add(size);
            });
        if (classNames == null) CheckInferredClasses(firstSeen, maxIndex, maskFiles, dataName);
        var names = classNames?.ToArray() ?? Enumerable.Range(0, Math.Max(2, maxIndex + 1)).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new SegmentationTrainingSet(input, names, images, maskFiles, sizes, decoded, masks, dataName, hash.Finish());
    }

    /// <summary>Row <paramref name="row"/>'s mask, decoded, and its image file's bytes and size: each file read once, the
    /// image's structure checked, or, with <paramref name="hold"/>, the image decoded completely and returned (the pixels
    /// <see cref="NetworkInput.Decode"/> gives); a file that cannot be read, is damaged or cannot be decoded fails with the
    /// row named.</summary>
    private static (byte[] File, (int Width, int Height) Size, DecodedImage? Image, SegmentationMask Mask) ReadRowForCheck(int row,
        List<string> images, List<string> maskFiles, NetworkInput? hold, string dataName)
    {
        try
        {
            var mask = SegmentationMask.CreateFromFile(maskFiles[row]);
            var file = File.ReadAllBytes(images[row]);   // read once: its header, then its structure or all of it
            ImageHeader.ReadSize(images[row], file);
            if (hold == null) return (file, ImageFileIntegrity.Check(images[row], file), null, mask);
            var image = ImageFileDecoder.Decode(images[row], file, hold.Grayscale);
            return (file, (image.Width, image.Height), image, mask);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Row {row} of the {dataName}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Without class names the classes are 0..K-1 with K the largest mask value plus one: a value far above the others
    /// (an antialiased edge, a colour or 0/255-style mask) would silently make a network of hundreds of classes. Every
    /// index from 1 up to the largest must appear somewhere; otherwise the first mask with a value past the gap is named.
    /// </summary>
    private static void CheckInferredClasses((int Row, int Pixel)?[] firstSeen, int maxIndex, List<string> maskFiles, string dataName)
    {
        int missing = Enumerable.Range(1, Math.Max(0, maxIndex)).FirstOrDefault(v => firstSeen[v] == null);
        if (missing == 0) return;
        int above = Enumerable.Range(missing + 1, maxIndex - missing).First(v => firstSeen[v] != null);
        var (row, pixel) = firstSeen[above]!.Value;
        var size = SegmentationMask.CreateFromFile(maskFiles[row]);
        throw new InvalidDataException($"Row {row} of the {dataName}: mask '{maskFiles[row]}' pixel (x={pixel % size.Width}, y={pixel / size.Width}) is {above}, but no mask has the value {missing}. " +
            $"Without ClassNames the classes are 0..{maxIndex} (the largest mask value plus one, {maxIndex + 1} classes), so a value past a gap is taken for a stray pixel. " +
            $"Give ClassNames (one per class, background first) to train that many classes, or fix the mask (class indices 0..K-1, 255 = ignore).");
    }

    private static (List<string> Images, List<string> Masks) ReadPaths(IDataView data, string imageColumn, string maskColumn)
    {
        var image = data.Schema[imageColumn];
        var mask = data.Schema[maskColumn];
        var images = new List<string>();
        var masks = new List<string>();
        using var cursor = data.GetRowCursor([image, mask]);
        var getImage = cursor.GetGetter<ReadOnlyMemory<char>>(image);
        var getMask = cursor.GetGetter<ReadOnlyMemory<char>>(mask);
        ReadOnlyMemory<char> a = default, b = default;
        while (cursor.MoveNext())
        {
            getImage(ref a);
            getMask(ref b);
            images.Add(a.ToString());
            masks.Add(b.ToString());
        }
        return (images, masks);
    }

    /// <summary>Images (B, C, H, W) float pixels in [0, 255] and targets (B, H, W) int64, augmented when <paramref name="augmentation"/> is given.</summary>
    public (Tensor Images, Tensor Targets) Batch(IReadOnlyList<int> indices, SegmentationAugmentation? augmentation, Random rng, Device device)
    {
        using var scope = NewDisposeScope();
        var rows = ParallelRows.Read(indices, _decodeThreads, Row);
        var images = new List<Tensor>(indices.Count);
        var targets = new List<Tensor>(indices.Count);
        foreach (var (image, mask) in rows)
        {
            var (img, target) = Sample(image, mask, augmentation, rng);
            images.Add(img);
            targets.Add(target);
        }
        if (augmentation is { ClassMix: > 0 }) (images, targets) = ClassMix(images, targets, augmentation.ClassMix, rng);
        return (stack(images).to(device).MoveToOuterDisposeScope(), stack(targets).to(device).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One row's <paramref name="image"/> and <paramref name="mask"/> (at their own size) as the network's input-size
    /// (C, H, W) float pixels and (H, W) int64 target, augmented when <paramref name="augmentation"/> is given (the scale's
    /// size drawn first and the original resampled straight to it, then crop, rotation, flip and colour) with
    /// <paramref name="rng"/>. ClassMix, which pairs images of a batch, is the caller's.
    /// </summary>
    public (Tensor Image, Tensor Target) Sample(DecodedImage image, SegmentationMask mask, SegmentationAugmentation? augmentation, Random rng)
    {
        int c = Input.Channels, h = Input.Height, w = Input.Width;
        var (sh, sw) = augmentation != null ? ScaledSize(augmentation, rng) : (h, w);
        var pixels = AntialiasedBilinear.ResizeToBytes(image.Pixels, image.Width, image.Height, image.Channels, sw, sh);
        var img = tensor(pixels, ScalarType.Byte).reshape(c, sh, sw).to(ScalarType.Float32);                                        // (C, sh, sw)
        var target = tensor(MaskOps.ResizeNearest(mask.Pixels, mask.Width, mask.Height, sw, sh), ScalarType.Byte).reshape(sh, sw).to(ScalarType.Int64);   // (sh, sw)
        if (augmentation != null) (img, target) = Augment(img, target, augmentation, rng);
        return (img, target);
    }

    /// <summary>
    /// ClassMix (Olsson et al. 2021): with probability <paramref name="probability"/>, image i of the batch gets the
    /// pixels of half (rounded up) of the classes present in the next image of the batch pasted over it, chosen at
    /// random, labels with them. Objects then appear on backgrounds and next to objects they were never photographed
    /// with, which a network trained on few images otherwise memorises. Ignored (255) pixels are never pasted.
    /// </summary>
    internal static (List<Tensor> Images, List<Tensor> Targets) ClassMix(List<Tensor> images, List<Tensor> targets, float probability, Random rng)
    {
        int n = images.Count;
        var mixedImages = new List<Tensor>(n);
        var mixedTargets = new List<Tensor>(n);
        for (int i = 0; i < n; i++)
        {
            int j = (i + 1) % n;
            if (n < 2 || rng.NextDouble() >= probability)
            {
                mixedImages.Add(images[i]);
                mixedTargets.Add(targets[i]);
                continue;
            }
            var present = targets[j].flatten().data<long>().Where(v => v != SegmentationColumns.IgnoreIndex).Distinct().Order().ToArray();
            rng.Shuffle(present);
            var chosen = present.Take((present.Length + 1) / 2).ToArray();
            var paste = zeros_like(targets[j], dtype: ScalarType.Bool);                                // (H, W)
            foreach (long c in chosen)
            {
                using Scalar chosenClass = c;   // held (dotnet/TorchSharp#1434)
                paste = paste.logical_or(targets[j].eq(chosenClass));
            }
            mixedImages.Add(where(paste.unsqueeze(0), images[j], images[i]));
            mixedTargets.Add(where(paste, targets[j], targets[i]));
        }
        return (mixedImages, mixedTargets);
    }

    /// <summary>The input size scaled by a factor drawn from [MinScale, MaxScale] (the input size when there is no range).</summary>
    private (int Height, int Width) ScaledSize(SegmentationAugmentation a, Random rng)
    {
        int h = Input.Height, w = Input.Width;
        if (!(a.MaxScale > a.MinScale || a.MinScale != 1f)) return (h, w);
        double s = a.MinScale + rng.NextDouble() * (a.MaxScale - a.MinScale);
        return (Math.Max(1, (int)Math.Round(h * s)), Math.Max(1, (int)Math.Round(w * s)));
    }

    /// <summary>Image (C, sh, sw) and mask (sh, sw) at the drawn scale to the input size: padded and cropped, rotated,
    /// flipped, colour-jittered.</summary>
    private (Tensor, Tensor) Augment(Tensor img, Tensor target, SegmentationAugmentation a, Random rng)
    {
        int h = Input.Height, w = Input.Width;
        if (a.MaxScale > a.MinScale || a.MinScale != 1f)
        {
            int sh = (int)target.shape[0], sw = (int)target.shape[1];
            // Pad a smaller image to the input size: grey pixels, 255 in the mask so padding counts in no loss.
            int padH = Math.Max(0, h - sh), padW = Math.Max(0, w - sw);
            if (padH > 0 || padW > 0)
            {
                img = F.pad(img, [0, padW, 0, padH], value: 127.5);
                target = F.pad(target, [0, padW, 0, padH], value: SegmentationColumns.IgnoreIndex);
            }
            int y0 = rng.Next((int)target.shape[0] - h + 1), x0 = rng.Next((int)target.shape[1] - w + 1);
            img = img[.., y0..(y0 + h), x0..(x0 + w)];
            target = target[y0..(y0 + h), x0..(x0 + w)];
        }
        if (a.MaxRotation > 0) (img, target) = Rotate(img, target, (rng.NextDouble() * 2 - 1) * a.MaxRotation);
        if (a.HorizontalFlip && rng.NextDouble() < 0.5)
        {
            img = img.flip(2);
            target = target.flip(1);
        }
        img = PhotometricJitter.Apply(img, a.Brightness, a.Contrast, rng);
        img = ColorJitter.Apply(img, a.Saturation, a.Hue, rng);
        return (img.contiguous(), target.contiguous());
    }

    /// <summary>
    /// Rotates image (C, H, W) and mask (H, W) by <paramref name="degrees"/> about the centre: pixels bilinear, mask
    /// nearest (class indices never blend); what comes from outside the image is grey, and 255 in the mask.
    /// </summary>
    internal static (Tensor Image, Tensor Target) Rotate(Tensor img, Tensor target, double degrees)
    {
        long h = img.shape[1], w = img.shape[2];
        double angle = degrees * Math.PI / 180, cos = Math.Cos(angle), sin = Math.Sin(angle);
        // affine_grid maps output to input in coordinates normalised per axis to [-1, 1]: a rotation in pixels becomes
        // this matrix once the two axes' half-sizes (W/2, H/2) are divided out.
        var theta = tensor(new float[] { (float)cos, (float)(-sin * h / w), 0, (float)(sin * w / h), (float)cos, 0 }, device: img.device).reshape(1, 2, 3);
        var grid = F.affine_grid(theta, [1, img.shape[0], h, w], align_corners: false);              // (1, H, W, 2)
        using Scalar grey = 127.5f, ignored = SegmentationColumns.IgnoreIndex;                        // held (dotnet/TorchSharp#1434)
        var rotated = F.grid_sample((img - grey).unsqueeze(0), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false).squeeze(0).Plus(grey);
        // Sampling mask + 1 with zero padding marks outside pixels as 0.
        var shifted = F.grid_sample(target.to(ScalarType.Float32).Plus(HeldArithmetic.One).unsqueeze(0).unsqueeze(0), grid, GridSampleMode.Nearest, GridSamplePaddingMode.Zeros, align_corners: false)
            .squeeze(0).squeeze(0).round().to(ScalarType.Int64);                                       // (H, W)
        var mask = where(shifted.eq(HeldArithmetic.Zero), full_like(shifted, ignored), shifted - HeldArithmetic.One);
        return (rotated, mask);
    }
}
