using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Trains an SSD or grid detector with TorchSharp and returns a <see cref="DetectionTransformer"/> that scores with
/// ONNX Runtime inside ML.NET. Made by <see cref="DetectionTrainingCatalog.TrainSsdDetector(TransformsCatalog, SsdDetectorOptions)"/>.
/// </summary>
public sealed class SsdDetectorEstimator : DetectorTrainerEstimator<SsdDetectorOptions>
{
    internal SsdDetectorEstimator(IHostEnvironment? log, SsdDetectorOptions options) : base(log, options) { }
}
