using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Trains a DeepLab v3+ segmenter with TorchSharp and returns a <see cref="SegmentationTransformer"/> that scores with
/// ONNX Runtime inside ML.NET. Made by <see cref="SegmentationTrainingCatalog.TrainDeepLabSegmenter(TransformsCatalog, DeepLabSegmenterOptions)"/>.
/// </summary>
public sealed class DeepLabSegmenterEstimator : IEstimator<SegmentationTransformer>
{
    private readonly IHostEnvironment? _log;

    internal DeepLabSegmenterEstimator(IHostEnvironment? log, DeepLabSegmenterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _log = log;
        Options = options;
    }

    public DeepLabSegmenterOptions Options { get; }

    /// <summary>Losses per step and validation mIoU per validated epoch of the last <see cref="Fit"/>.</summary>
    public TrainingHistory? LastHistory { get; private set; }

    /// <summary>
    /// The TorchSharp network of the last <see cref="Fit"/> (the weights that were exported), in eval mode, for
    /// inspection: e.g. that a frozen backbone's BatchNorm statistics are the pretrained file's. Scoring does not need it.
    /// The next <see cref="Fit"/> disposes it.
    /// </summary>
    public DeepLabNetwork? LastNetwork { get; private set; }

    public SegmentationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        GetOutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(input.Schema));
        if (Options.ValidationData != null)
            GetOutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(Options.ValidationData.Schema));
        // ML.NET's catalogs do not expose their MLContext: data plumbing uses a private one seeded like the run.
        var ml = new MLContext(Options.Seed);
        var loop = new TrainingLoop(Options, _log);
        using var task = new DeepLabTrainingTask(ml, Options, input, _log);
        var result = loop.Run(task);
        LastHistory = loop.History;
        LastNetwork?.Dispose();   // the previous Fit's network, kept for inspection until now
        LastNetwork = result.Model;
        return SegmentationTransformer.Create(ml, result.Onnx, Options.ImagePathColumn);
    }

    /// <summary>Checks the two path columns and adds <c>PredictedMask</c>.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        TrainingColumns.Require(columns, Options.ImagePathColumn, TrainingColumns.IsText, "text (the image file path)");
        TrainingColumns.Require(columns, Options.MaskPathColumn, TrainingColumns.IsText, "text (the mask file path)");
        foreach (var c in SegmentationTransformer.OutputColumnsShape()) columns[c.Name] = c;
        return new SchemaShape(columns.Values);
    }
}

/// <summary>Segmenter training on <c>mlContext.Transforms</c>.</summary>
public static class SegmentationTrainingCatalog
{
    /// <summary>Trains a DeepLab v3+ segmenter with default options on the segmentation schema (ImagePath, MaskPath).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="classNames">Class names, background first; null: taken from the mask values.</param>
    /// <param name="inputWidth">Network input width in pixels.</param>
    /// <param name="inputHeight">Network input height in pixels.</param>
    /// <param name="epochs">Passes over the training data.</param>
    public static DeepLabSegmenterEstimator TrainDeepLabSegmenter(this TransformsCatalog catalog, IReadOnlyList<string>? classNames = null,
        int inputWidth = 512, int inputHeight = 512, int epochs = 30)
        => catalog.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { ClassNames = classNames, InputWidth = inputWidth, InputHeight = inputHeight, Epochs = epochs });

    /// <summary>Trains a DeepLab v3+ segmenter with the given options.</summary>
    public static DeepLabSegmenterEstimator TrainDeepLabSegmenter(this TransformsCatalog catalog, DeepLabSegmenterOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new DeepLabSegmenterEstimator(CatalogEnvironment.TryGet(catalog), options);
    }
}
