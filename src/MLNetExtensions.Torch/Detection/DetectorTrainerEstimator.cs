using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// What every detector trainer is to ML.NET: an estimator whose <see cref="Fit"/> checks the columns, trains with the
/// shared <see cref="TrainingLoop"/> and returns a <see cref="DetectionTransformer"/> that scores with ONNX Runtime.
/// <see cref="SsdDetectorEstimator"/> and <see cref="FasterRcnnDetectorEstimator"/> are the families.
/// </summary>
public abstract class DetectorTrainerEstimator<TOptions> : IEstimator<DetectionTransformer> where TOptions : DetectorTrainerOptions
{
    private readonly IHostEnvironment? _log;

    private protected DetectorTrainerEstimator(IHostEnvironment? log, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _log = log;
        Options = options;
    }

    public TOptions Options { get; }

    /// <summary>Losses (and reported figures) per step and the validation mAP per validated epoch of the last <see cref="Fit"/>.</summary>
    public TrainingHistory? LastHistory { get; private set; }

    public DetectionTransformer Fit(IDataView input)
    {
        var (model, history) = DetectorTrainingTask.Fit(_log, Options, input);
        LastHistory = history;
        return model;
    }

    /// <summary>Checks the image path, boxes and labels columns and adds the three prediction columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => DetectorTrainingTask.OutputSchema(inputSchema, Options);
}
