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
        var (model, history) = DetectorTrainingTask.Fit(_log, Options, Options, input);
        LastHistory = history;
        return model;
    }

    /// <summary>Checks the columns and adds the three prediction columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => DetectorTrainingTask.OutputSchema(inputSchema, Options);
}
