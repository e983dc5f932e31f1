using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Raw per-image outputs in the scoring contract: decoded boxes (A, 4) relative to the input, class
/// probabilities (A, C) without background. What the exported graph gives, computed in TorchSharp.</summary>
internal sealed record RawDetections(float[] Boxes, float[] ClassScores);

/// <summary>
/// A trainable detector: its network, its loss (with the targets it makes), its raw predictions and its ONNX graph.
/// The training loop is the same for every detector; what differs lives behind this interface.
/// </summary>
internal interface IDetectorModel : ITrainableModel
{
    /// <summary>Loss of a batch, in named parts: (B, C, H, W) raw pixels and one target per image; <paramref name="rng"/> is the
    /// step's generator, for models that draw samples in their loss.</summary>
    TrainingLoss Loss(Tensor images, IReadOnlyList<DetectionTarget> targets, Random rng);

    /// <summary>Eval-mode raw outputs for each image of the batch.</summary>
    List<RawDetections> Predict(Tensor images);

    /// <summary>The ONNX graph: <see cref="ScoringColumns.OnnxPixels"/> in; boxes, scores and settings out.</summary>
    OnnxGraphBuilder Export(NetworkInput input, OnnxModelMetadata metadata, float scoreThreshold, float iouThreshold, int maxDetections);
}
