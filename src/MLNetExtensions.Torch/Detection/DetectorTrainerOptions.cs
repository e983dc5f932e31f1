using MLNetExtensions.Data;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// The options of the detectors trained as one network on the shared detector training task (SSD, grid, Faster
/// R-CNN): <see cref="DetectorNetworkOptions"/> and what that task needs from a family (its model, export metadata,
/// checkpoint fingerprint). <see cref="SsdDetectorOptions"/> and <see cref="FasterRcnnDetectorOptions"/> derive from it.
/// </summary>
public abstract record DetectorTrainerOptions : DetectorNetworkOptions
{
    private protected DetectorTrainerOptions(OptimizerKind optimizer, double learningRate, double weightDecay, int warmupSteps, LearningRateDecay learningRateDecay)
        : base(optimizer, learningRate, weightDecay, warmupSteps, learningRateDecay) { }

    /// <summary>Where log messages come from (the estimator's name).</summary>
    internal abstract string LogSource { get; }

    /// <summary>Lowest score a detection keeps, carried in the exported model.</summary>
    internal abstract float DetectionScoreThreshold { get; }

    /// <summary>IoU of the final class-aware NMS, carried in the exported model.</summary>
    internal abstract float DetectionNmsThreshold { get; }

    /// <summary>Most detections per image, carried in the exported model.</summary>
    internal abstract int DetectionsPerImage { get; }

    /// <summary>What a checkpoint must agree with to be resumed: everything that shapes the network or the run.</summary>
    internal abstract string Fingerprint(IReadOnlyList<string> classNames);

    /// <summary>The family's named run settings for a checkpoint's fingerprint (loss, matching, post-processing); the
    /// shared detector ones (augmentation, backbone weights) come first.</summary>
    internal IEnumerable<(string Name, object? Value)> FingerprintSettings()
        => NetworkFingerprintSettings().Concat(FamilyFingerprintSettings());

    /// <summary>The family's own named run settings (loss, matching, post-processing).</summary>
    private protected abstract IEnumerable<(string Name, object? Value)> FamilyFingerprintSettings();

    /// <summary>The model description written into the ONNX metadata (architecture, backbone, normalisation...).</summary>
    internal abstract Dictionary<string, string> ExportMetadata();

    /// <summary>A new model for <paramref name="classCount"/> classes on <paramref name="device"/>.</summary>
    internal abstract IDetectorModel CreateModel(int classCount, Device device);
}
