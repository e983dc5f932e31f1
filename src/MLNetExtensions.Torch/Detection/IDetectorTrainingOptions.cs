using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// What <see cref="DetectorTrainingTask"/> needs from a detector family's options besides <see cref="TrainerOptions"/>:
/// columns, input, augmentation, the post-processing carried in the exported model, the checkpoint fingerprint and
/// how to build the model.
/// </summary>
internal interface IDetectorTrainingOptions
{
    string ImagePathColumn { get; }
    string BoxesColumn { get; }
    string LabelsColumn { get; }
    int InputWidth { get; }
    int InputHeight { get; }
    bool Grayscale { get; }
    DetectionAugmentation? Augmentation { get; }

    /// <summary>Where log messages come from (the estimator's name).</summary>
    string LogSource { get; }

    /// <summary>Lowest score a detection keeps, carried in the exported model.</summary>
    float DetectionScoreThreshold { get; }

    /// <summary>IoU of the final class-aware NMS, carried in the exported model.</summary>
    float DetectionNmsThreshold { get; }

    /// <summary>Most detections per image, carried in the exported model.</summary>
    int DetectionsPerImage { get; }

    /// <summary>What a checkpoint must agree with to be resumed.</summary>
    string Fingerprint(IReadOnlyList<string> classNames);

    /// <summary>The model description written into the ONNX metadata (architecture, backbone, normalisation...).</summary>
    Dictionary<string, string> ExportMetadata();

    /// <summary>A new model for <paramref name="classCount"/> classes on <paramref name="device"/>.</summary>
    IDetectorModel CreateModel(int classCount, Device device);
}
