using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Trains an SSD or grid detector with TorchSharp and returns a <see cref="DetectionTransformer"/> that scores with
/// ONNX Runtime inside ML.NET. Made by <see cref="DetectionTrainingCatalog.TrainSsdDetector(TransformsCatalog, SsdDetectorOptions)"/>.
/// </summary>
public sealed class SsdDetectorEstimator : IEstimator<DetectionTransformer>
{
    private readonly IHostEnvironment? _log;

    internal SsdDetectorEstimator(IHostEnvironment? log, SsdDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _log = log;
        Options = options;
    }

    public SsdDetectorOptions Options { get; }

    /// <summary>Losses per step and validation mAP per epoch of the last <see cref="Fit"/>.</summary>
    public TrainingHistory? LastHistory { get; private set; }

    public DetectionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInputColumns(input.Schema);
        // ML.NET's catalogs do not expose their MLContext; data plumbing uses a private one seeded like the run,
        // messages go to the caller's MLContext.Log through the catalog's environment.
        var ml = new MLContext(Options.Seed);
        var loop = new TrainingLoop(Options, _log);
        var result = loop.Run(new DetectorTrainingTask(ml, Options, Options, input));
        LastHistory = loop.History;
        return DetectionTransformer.Create(ml, result.Onnx, Options.ImagePathColumn);
    }

    /// <summary>Checks the columns and adds the three prediction columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        TrainingColumns.Require(columns, Options.ImagePathColumn, TrainingColumns.IsText, "text (the image file path)");
        TrainingColumns.Require(columns, Options.BoxesColumn, c => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Single, "a vector of float (N×4 box corners in pixels)");
        TrainingColumns.Require(columns, Options.LabelsColumn, c => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.IsKey, "a vector of keys (class indices with the class names as key values)");
        // SchemaShape.Column has no public constructor: the output columns are read off the scoring chain's schema.
        var output = DetectionTransformer.OutputColumnsShape();
        foreach (var c in output) columns[c.Name] = c;
        return new SchemaShape(columns.Values);
    }

    private void CheckInputColumns(DataViewSchema schema) => GetOutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(schema));
}

/// <summary>Detector training on <c>mlContext.Transforms</c>.</summary>
public static class DetectionTrainingCatalog
{
    /// <summary>Trains an SSD detector with default options on the detection schema's columns.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="inputWidth">Network input width in pixels.</param>
    /// <param name="inputHeight">Network input height in pixels.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="architecture">SSD or the grid detector.</param>
    public static SsdDetectorEstimator TrainSsdDetector(this TransformsCatalog catalog, int inputWidth = 300, int inputHeight = 300,
        int epochs = 30, DetectorArchitecture architecture = DetectorArchitecture.Ssd)
        => catalog.TrainSsdDetector(new SsdDetectorOptions { InputWidth = inputWidth, InputHeight = inputHeight, Epochs = epochs, Architecture = architecture });

    /// <summary>Trains an SSD or grid detector with the given options.</summary>
    public static SsdDetectorEstimator TrainSsdDetector(this TransformsCatalog catalog, SsdDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SsdDetectorEstimator(CatalogEnvironment.TryGet(catalog), options);
    }
}
