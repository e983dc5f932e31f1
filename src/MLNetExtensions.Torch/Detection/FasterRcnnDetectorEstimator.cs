using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// Trains a Faster R-CNN detector (backbone, RPN, RoI Align, box head) with TorchSharp and returns a
/// <see cref="DetectionTransformer"/> that scores the whole two-stage model in ONNX Runtime inside ML.NET; its history
/// has the four losses and <c>rpn_accuracy</c>. Made by
/// <see cref="DetectionTrainingCatalog.TrainFasterRcnnDetector(TransformsCatalog, FasterRcnnDetectorOptions)"/>.
/// </summary>
public sealed class FasterRcnnDetectorEstimator : DetectorTrainerEstimator<FasterRcnnDetectorOptions>
{
    internal FasterRcnnDetectorEstimator(IHostEnvironment? log, FasterRcnnDetectorOptions options) : base(log, options) { }
}
