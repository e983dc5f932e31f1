using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
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

    /// <summary>
    /// Multi-scale training (YOLO's multi-scale, torchvision's <c>min_size</c> tuple): each step's batch is made at
    /// <see cref="DetectorNetworkOptions.InputWidth"/> × <see cref="DetectorNetworkOptions.InputHeight"/> times a factor
    /// drawn from this list, e.g. <c>[0.75f, 0.875f, 1f, 1.125f, 1.25f]</c>. A factor's sides are rounded to a multiple
    /// of 32 (the backbones' deepest stride, so every size's feature maps and anchors line up with its pixels); 1 is the
    /// input size itself. The draw is a function of the seed and the step, so the worker count and a resume do not
    /// change it. Validation, export and scoring stay at the input size. Null (the default): every step at the input size.
    /// </summary>
    public IReadOnlyList<float>? TrainingScales { get; set; }

    public override void Validate()
    {
        base.Validate();
        if (TrainingScales != null)
        {
            Check(TrainingScales.Count > 0, nameof(TrainingScales), "[]", "must hold at least one factor (null: every step at the input size)");
            foreach (float f in TrainingScales)
            {
                Check(float.IsFinite(f) && f >= 0.25f && f <= 4f, nameof(TrainingScales), f, "must hold factors within 0.25..4");
                var (w, h) = ScaledSize(f);
                Check(w is >= 32 and <= 4096 && h is >= 32 and <= 4096, nameof(TrainingScales), f,
                    $"makes a {w}×{h} input from {InputWidth}×{InputHeight}; every training size must be within 32..4096 pixels");
            }
        }
    }

    /// <summary>The inputs the training steps are made at: the input itself, or one per <see cref="TrainingScales"/> factor.</summary>
    internal IReadOnlyList<NetworkInput> TrainingInputs(NetworkInput input)
        => TrainingScales is null ? [input]
            : TrainingScales.Select(f => ScaledSize(f)).Select(s => input with { Width = s.Width, Height = s.Height }).ToArray();

    /// <summary>The input size times <paramref name="factor"/>, each side rounded to a multiple of 32 (the size itself for 1).</summary>
    private (int Width, int Height) ScaledSize(float factor)
        => factor == 1f ? (InputWidth, InputHeight)
            : ((int)Math.Round(InputWidth * factor / 32.0, MidpointRounding.AwayFromZero) * 32, (int)Math.Round(InputHeight * factor / 32.0, MidpointRounding.AwayFromZero) * 32);

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
        => NetworkFingerprintSettings()
            .Concat(TrainingScales is null ? [] : [(nameof(TrainingScales), (object?)TrainingScales)])   // absent when off, so older checkpoints still match
            .Concat(FamilyFingerprintSettings());

    /// <summary>The family's own named run settings (loss, matching, post-processing).</summary>
    private protected abstract IEnumerable<(string Name, object? Value)> FamilyFingerprintSettings();

    /// <summary>The model description written into the ONNX metadata (architecture, backbone, normalisation...).</summary>
    internal abstract Dictionary<string, string> ExportMetadata();

    /// <summary>A new model for <paramref name="classCount"/> classes on <paramref name="device"/>.</summary>
    internal abstract IDetectorModel CreateModel(int classCount, Device device);
}
