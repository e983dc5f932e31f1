using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Data;
using MLNetExtensions.Transforms.ImageMath;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>How <see cref="AugmentDetectionEstimator"/> chooses a random crop.</summary>
public enum DetectionCropMode
{
    /// <summary>Each side a random fraction in [MinCropScale, 1] of the image's, aspect change bounded, placed uniformly.</summary>
    MinScale,
    /// <summary>As <see cref="MinScale"/>, but accepted only when its IoU with some box reaches a threshold drawn from
    /// <see cref="AugmentDetectionEstimator.Options.IoUThresholds"/> (SSD's sampler).</summary>
    IoUConstrained,
}

/// <summary>
/// Training-time detection augmentation: a random crop, a random horizontal flip and brightness/contrast jitter, applied
/// consistently to the image, its boxes (dropping boxes left with too little area, with their labels and difficult
/// flags) and an optional mask. In order: crop (with probability <see cref="Options.CropProbability"/>), flip (with
/// probability <see cref="Options.HorizontalFlipProbability"/>), brightness ×U(1−b, 1+b), contrast ×U(1−c, 1+c)
/// around the mean grey level.
/// </summary>
/// <remarks>
/// <para>Deterministic: each row's random draws come from a SplitMix64 generator seeded with <see cref="Options.Seed"/>
/// and the row's id (for in-memory and file data, its index), so the same seed and rows give the same output on every
/// pass, with any cursor splitting. To see new augmentations each epoch, fit with a different seed per epoch (fitting
/// is free: nothing is learned).</para>
/// <para>A crop that would drop every box is rejected; after <see cref="Options.MaxCropTrials"/> rejected samples the
/// image is left whole. With cropping on, the output image size varies, so resize (for example with
/// <c>ResizeWithPadding</c>) before <c>ExtractPixels</c>.</para>
/// <para>Not savable (it reads MLImage columns, which ML.NET 5.0.1's CustomMapping cannot). Append it with
/// <c>TransformerScope.Training</c> and save <c>model.GetModelFor(TransformerScope.Scoring)</c>.</para>
/// </remarks>
public sealed class AugmentDetectionEstimator : IEstimator<AugmentDetectionTransformer>
{
    /// <summary>Default values, in one place.</summary>
    public static class Defaults
    {
        public const int Seed = 0;
        public const float HorizontalFlipProbability = 0.5f;
        public const float CropProbability = 0.5f;
        public const DetectionCropMode CropMode = DetectionCropMode.MinScale;
        public const float MinCropScale = 0.3f;
        public const float MaxAspectChange = 2f;
        public const float MinVisibleFraction = CropImageEstimator.Defaults.MinVisibleFraction;
        public const float BrightnessJitter = 0.2f;
        public const float ContrastJitter = 0.2f;
        public const int MaxCropTrials = 50;
        /// <summary>SSD's minimum IoU choices.</summary>
        public static IReadOnlyList<float> IoUThresholds { get; } = [0.1f, 0.3f, 0.5f, 0.7f, 0.9f];
    }

    /// <summary>Settings of <see cref="AugmentDetectionEstimator"/>, checked when constructed.</summary>
    public sealed class Options
    {
        /// <param name="outputColumnName">The augmented image column.</param>
        /// <param name="inputColumnName">Image column to read; <paramref name="outputColumnName"/> when null.</param>
        /// <param name="seed">Seed of the per-row random draws.</param>
        /// <param name="horizontalFlipProbability">Probability of a left-right flip.</param>
        /// <param name="cropProbability">Probability of attempting a random crop; 0 turns cropping off.</param>
        /// <param name="cropMode">How crops are sampled.</param>
        /// <param name="minCropScale">Smallest crop side as a fraction of the image side, in (0, 1].</param>
        /// <param name="maxAspectChange">Largest change of aspect ratio a crop may make (≥ 1).</param>
        /// <param name="iouThresholds">For <see cref="DetectionCropMode.IoUConstrained"/>: minimum IoUs to draw from; SSD's when null.</param>
        /// <param name="minVisibleFraction">Fraction of a box's area that must remain inside a crop for it to be kept.</param>
        /// <param name="brightnessJitter">b: brightness factor drawn from [1−b, 1+b]; 0 turns it off.</param>
        /// <param name="contrastJitter">c: contrast factor drawn from [1−c, 1+c]; 0 turns it off.</param>
        /// <param name="maxCropTrials">Crop samples tried before giving up on cropping a row.</param>
        /// <param name="boxesColumnName">Boxes, rewritten in place; null when there are none.</param>
        /// <param name="labelsColumnName">One label per box, filtered in place; null when there is none.</param>
        /// <param name="difficultColumnName">One flag per box, filtered in place; null when the data has no such column.</param>
        /// <param name="maskColumnName">Optional mask (bytes, H×W row-major), transformed in place.</param>
        /// <param name="maskWidthColumnName">Int32 mask width column, required with a mask.</param>
        /// <param name="maskHeightColumnName">Int32 mask height column, required with a mask.</param>
        public Options(string outputColumnName, string? inputColumnName = null, int seed = Defaults.Seed,
            float horizontalFlipProbability = Defaults.HorizontalFlipProbability, float cropProbability = Defaults.CropProbability,
            DetectionCropMode cropMode = Defaults.CropMode, float minCropScale = Defaults.MinCropScale,
            float maxAspectChange = Defaults.MaxAspectChange, IReadOnlyList<float>? iouThresholds = null,
            float minVisibleFraction = Defaults.MinVisibleFraction, float brightnessJitter = Defaults.BrightnessJitter,
            float contrastJitter = Defaults.ContrastJitter, int maxCropTrials = Defaults.MaxCropTrials,
            string? boxesColumnName = DetectionColumns.Boxes, string? labelsColumnName = DetectionColumns.Labels,
            string? difficultColumnName = DetectionColumns.Difficult,
            string? maskColumnName = null, string? maskWidthColumnName = null, string? maskHeightColumnName = null)
        {
            ColumnCheck.CheckName(outputColumnName, nameof(outputColumnName));
            ColumnCheck.CheckName(inputColumnName, nameof(inputColumnName), allowNull: true);
            CheckFraction(horizontalFlipProbability, nameof(horizontalFlipProbability));
            CheckFraction(cropProbability, nameof(cropProbability));
            if (!Enum.IsDefined(cropMode))
                throw new ArgumentOutOfRangeException(nameof(cropMode), $"Unknown crop mode {cropMode}.");
            if (!(minCropScale > 0 && minCropScale <= 1))
                throw new ArgumentOutOfRangeException(nameof(minCropScale), $"minCropScale {minCropScale} must be in (0, 1].");
            if (!(maxAspectChange >= 1))
                throw new ArgumentOutOfRangeException(nameof(maxAspectChange), $"maxAspectChange {maxAspectChange} must be at least 1.");
            var thresholds = (iouThresholds ?? Defaults.IoUThresholds).ToArray();
            if (thresholds.Length == 0 || thresholds.Any(t => !(t >= 0 && t <= 1)))
                throw new ArgumentOutOfRangeException(nameof(iouThresholds), $"iouThresholds [{string.Join(", ", thresholds)}] must be one or more values in [0, 1].");
            if (!(brightnessJitter >= 0 && brightnessJitter < 1))
                throw new ArgumentOutOfRangeException(nameof(brightnessJitter), $"brightnessJitter {brightnessJitter} must be in [0, 1).");
            if (!(contrastJitter >= 0 && contrastJitter < 1))
                throw new ArgumentOutOfRangeException(nameof(contrastJitter), $"contrastJitter {contrastJitter} must be in [0, 1).");
            if (maxCropTrials <= 0)
                throw new ArgumentOutOfRangeException(nameof(maxCropTrials), $"maxCropTrials {maxCropTrials} must be positive.");
            BoxColumns = new PerBoxOptions(boxesColumnName, labelsColumnName, difficultColumnName, minVisibleFraction);
            MaskColumns.Check(maskColumnName, maskWidthColumnName, maskHeightColumnName);
            OutputColumnName = outputColumnName;
            InputColumnName = inputColumnName ?? outputColumnName;
            Seed = seed;
            HorizontalFlipProbability = horizontalFlipProbability;
            CropProbability = cropProbability;
            CropMode = cropMode;
            MinCropScale = minCropScale;
            MaxAspectChange = maxAspectChange;
            IoUThresholds = thresholds;
            BrightnessJitter = brightnessJitter;
            ContrastJitter = contrastJitter;
            MaxCropTrials = maxCropTrials;
            MaskColumnName = maskColumnName;
            MaskWidthColumnName = maskWidthColumnName;
            MaskHeightColumnName = maskHeightColumnName;
            MaskColumns.CheckDistinct([OutputColumnName, boxesColumnName, labelsColumnName, difficultColumnName,
                MaskColumnName, MaskWidthColumnName, MaskHeightColumnName]);
        }

        public string OutputColumnName { get; }
        public string InputColumnName { get; }
        public int Seed { get; }
        public float HorizontalFlipProbability { get; }
        public float CropProbability { get; }
        public DetectionCropMode CropMode { get; }
        public float MinCropScale { get; }
        public float MaxAspectChange { get; }
        public IReadOnlyList<float> IoUThresholds { get; }
        public float MinVisibleFraction => BoxColumns.MinVisibleFraction;
        public float BrightnessJitter { get; }
        public float ContrastJitter { get; }
        public int MaxCropTrials { get; }
        public string? BoxesColumnName => BoxColumns.Boxes;
        public string? LabelsColumnName => BoxColumns.Labels;
        public string? DifficultColumnName => BoxColumns.Difficult;
        public string? MaskColumnName { get; }
        public string? MaskWidthColumnName { get; }
        public string? MaskHeightColumnName { get; }
        internal PerBoxOptions BoxColumns { get; }

        private static void CheckFraction(float p, string name)
        {
            if (!(p >= 0 && p <= 1))
                throw new ArgumentOutOfRangeException(name, $"{name} {p} must be a probability in [0, 1].");
        }
    }

    private readonly AugmentOperation _op;

    internal AugmentDetectionEstimator(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _op = new AugmentOperation(options);
    }

    /// <summary>The settings it was made with.</summary>
    public Options Settings => _op.Options;

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return _op.OutputShape(inputSchema, _op.Columns);
    }

    public AugmentDetectionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _op.OutputShape(SchemaShapes.Create(input.Schema), _op.Columns);
        return new AugmentDetectionTransformer(_op);
    }
}

/// <summary>The per-row work of <see cref="AugmentDetectionEstimator"/>.</summary>
internal sealed class AugmentOperation : SampleOperation
{
    public AugmentOperation(AugmentDetectionEstimator.Options options)
    {
        Options = options;
        Columns = new SampleColumns(options.OutputColumnName, options.InputColumnName, options.BoxesColumnName,
            options.BoxColumns.PerBoxColumns, options.MaskColumnName, options.MaskWidthColumnName, options.MaskHeightColumnName);
    }

    public AugmentDetectionEstimator.Options Options { get; }
    public SampleColumns Columns { get; }
    public override string Name => "AugmentDetection";

    /// <summary>Crops change the size from row to row; without them the size is the input's.</summary>
    public override ImageDataViewType OutputImageType(ImageDataViewType input)
        => Options.CropProbability > 0 ? new ImageDataViewType() : input;

    public override void Apply(DetectionSample s, RowContext row)
    {
        var o = Options;
        var rng = SeededRandom.ForRow(o.Seed, row.Id.High, row.Id.Low);
        // The draws always happen in this order, so a row's augmentation depends only on the seed and the row.
        if (o.CropProbability > 0 && rng.NextBool(o.CropProbability))
        {
            var thresholds = o.CropMode == DetectionCropMode.IoUConstrained ? o.IoUThresholds : null;
            var rect = RandomCrop.Sample(ref rng, s.Image.Width, s.Image.Height, s.Boxes, o.MinCropScale,
                o.MaxAspectChange, o.MinVisibleFraction, thresholds, o.MaxCropTrials);
            if (rect is { } r)
                SampleEdits.Crop(s, r, o.MinVisibleFraction);
        }
        if (o.HorizontalFlipProbability > 0 && rng.NextBool(o.HorizontalFlipProbability))
            SampleEdits.FlipHorizontal(s);
        if (o.BrightnessJitter > 0)
            ColorJitter.AdjustBrightness(s.Image.Pixels, rng.NextFloat(1 - o.BrightnessJitter, 1 + o.BrightnessJitter));
        if (o.ContrastJitter > 0)
            ColorJitter.AdjustContrast(s.Image.Pixels, rng.NextFloat(1 - o.ContrastJitter, 1 + o.ContrastJitter), s.Image.RedFirst);
    }
}
