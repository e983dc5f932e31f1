using Microsoft.ML;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// What every trainer of this library has: optimizer and schedule, batch size and length of the run, validation and
/// early stopping, checkpoints, the weights' moving average, device, seed, threads and progress. The model families'
/// options (<see cref="SsdDetectorOptions"/>, <see cref="Segmentation.DeepLabSegmenterOptions"/>, ...) derive from it
/// and pass their own defaults for the optimizer to the constructor; <see cref="Validate"/> checks these options once,
/// for every family, and each family's override adds its own.
/// </summary>
public abstract record TrainerOptions
{
    /// <summary>Sets the optimisation defaults of a model family (the rest of the defaults are the same for all).</summary>
    protected TrainerOptions(OptimizerKind optimizer, double learningRate, double weightDecay, int warmupSteps, LearningRateDecay learningRateDecay)
    {
        Optimizer = optimizer;
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        WarmupSteps = warmupSteps;
        LearningRateDecay = learningRateDecay;
    }

    // Optimisation.
    public OptimizerKind Optimizer { get; set; }
    public double LearningRate { get; set; }
    public double Momentum { get; set; } = 0.9;
    /// <summary>L2 penalty for SGD and Adadelta; AdamW's decoupled decay for Adam, where values of 0.01–0.1 are usual
    /// (SGD's usual 1e-4–5e-4 barely regularise AdamW).</summary>
    public double WeightDecay { get; set; }
    public int WarmupSteps { get; set; }
    public LearningRateDecay LearningRateDecay { get; set; }
    /// <summary>Images per step.</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Largest gradient norm before an optimizer step (null: no clipping).</summary>
    public double? GradientClipNorm { get; set; } = 10.0;
    /// <summary>Passes over the training data; ignored when <see cref="MaxSteps"/> is set.</summary>
    public int Epochs { get; set; } = 30;
    /// <summary>Total optimizer steps, when set (overrides <see cref="Epochs"/>).</summary>
    public int? MaxSteps { get; set; }
    /// <summary>When set, validation and export use an exponential moving average of the weights with this decay (e.g.
    /// 0.999, an average over about the last thousand steps; torchvision's <c>--model-ema</c>) instead of the last
    /// step's weights, which carry that step's mini-batch noise. Null (the default): the last weights.</summary>
    public double? ModelEmaDecay { get; set; }
    public int Seed { get; set; } = 1;
    /// <summary>Freeze the backbone: no gradients, and its BatchNorm layers stay in eval mode (running statistics untouched).</summary>
    public bool FreezeBackbone { get; set; }
    /// <summary>
    /// With <see cref="FreezeBackbone"/>: freeze only the stages up to and including this one (null: all). Segmentation:
    /// <c>stem</c>, <c>layer1</c> .. <c>layer4</c> (ResNetLite, ResNet18/34/50); <c>features.0</c> .. <c>features.18</c>
    /// (MobileNetV2). Detection: <c>stem</c>, <c>layer1</c> .. <c>layer3</c> (ResNet18), <c>body</c>, <c>stage4</c>
    /// (VggLite). torchvision's detection default when fine-tuning from ImageNet (<c>trainable_backbone_layers=3</c>)
    /// freezes the stem and layer1: <c>FreezeBackboneUpTo = "layer1"</c>.
    /// </summary>
    public string? FreezeBackboneUpTo { get; set; }
    public DeviceSelection Device { get; set; } = DeviceSelection.Auto;
    /// <summary>Threads libtorch may use on the CPU while <c>Fit</c> trains (libtorch's count is process-wide: the one it
    /// had is put back when training ends, failed or not); null leaves it as it is.</summary>
    public int? CpuThreads { get; set; }

    // Training data loading (SSD, grid, Faster R-CNN, classic R-CNN's fine-tuning and DeepLab stream their training images).
    /// <summary>Threads that decode and augment the training images ahead of the training step; 0 makes each batch on the
    /// training thread when the step needs it. Null (the default): for the detectors, whose augmentation is plain C#, the
    /// cores libtorch's threads leave free (<c>Environment.ProcessorCount</c> minus <see cref="CpuThreads"/> or
    /// libtorch's default), at most 8, so the workers and libtorch together never take more threads than there are cores;
    /// 0 when libtorch's threads take every core (the batches then made on the training thread, as PyTorch's
    /// <c>DataLoader</c> does by default; on 2 cores with libtorch's 2 threads one worker more made an SSD step at 300 px
    /// 0.92–1.02 times as fast and two 1.06–1.07 times, the <c>data-pipeline</c> bench); for DeepLab 0, because its augmentation (rotation, colour) runs
    /// libtorch operations, which would queue on the thread pool the training step holds (a worker made the segmentation
    /// quickstart 2.7 times slower on 2 cores). The count changes the speed only: every image's augmentation is a
    /// function of the seed, the step and its place in the batch, so any count gives the same batches.</summary>
    public int? DataWorkers { get; set; }
    /// <summary>Batches the data workers make ahead of the training step (PyTorch's <c>prefetch_factor</c>); memory for
    /// the training images is about <c>BatchSize × (PrefetchBatches + 1)</c> images.</summary>
    public int PrefetchBatches { get; set; } = 2;
    /// <summary>Keep every training image (and mask) in memory at its own size once decoded (the later epochs then decode
    /// nothing) when all of them take at most this many bytes (width × height × channels each, masks one byte a pixel);
    /// otherwise they are decoded from their files at every use and memory does not grow with the dataset. 0 never keeps
    /// them. Default 1 GiB (about 1,800 RGB images of 500×375). The log says which was chosen.</summary>
    public long PixelCacheBytes { get; set; } = 1L << 30;

    /// <summary>The most data workers the default gives.</summary>
    internal const int MaxDefaultDataWorkers = 8;

    /// <summary><see cref="DataWorkers"/>, or the default for <paramref name="libtorchThreads"/> threads of libtorch.</summary>
    internal int ResolveDataWorkers(int libtorchThreads)
        => DataWorkers ?? Math.Clamp(Environment.ProcessorCount - libtorchThreads, 0, MaxDefaultDataWorkers);

    // Validation and early stopping.
    /// <summary>Data scored with the model family's own metric (detectors: VOC mAP@0.5; segmenters: mIoU) at the end of
    /// validated epochs.</summary>
    public IDataView? ValidationData { get; set; }
    /// <summary>Stop after this many validations without a better validation metric; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; set; }
    /// <summary>Validate every this many epochs.</summary>
    public int ValidateEveryEpochs { get; set; } = 1;
    /// <summary>With validation data: return the model that scored best on it (true, the default; Keras's
    /// <c>restore_best_weights</c>) or the last weights (false; their average with <see cref="ModelEmaDecay"/>), validation
    /// then only reporting progress and stopping early.
    /// On a small validation set the best score is partly luck: at the end of a decaying learning rate the last weights are
    /// usually as good, and picking an earlier model by a noisy score can cost more than it gains.</summary>
    public bool ReturnBestValidatedModel { get; set; } = true;

    // Checkpoints.
    /// <summary>
    /// Whether training writes atomic checkpoints (every <see cref="CheckpointEverySteps"/> steps and at the end) and
    /// resumes from the latest one, so a crash loses at most that many steps. True by default; false trains without any.
    /// </summary>
    public bool EnableCheckpoints { get; set; } = true;
    /// <summary>
    /// Folder for the checkpoints; training resumes from the latest one there, and the folder is kept after training
    /// (a second <c>Fit</c> with the same options and data returns the finished model at once). Null (the default): a
    /// folder of its own for these options and data under the user's local data folder
    /// (<c>Environment.SpecialFolder.LocalApplicationData</c>/MLNetExtensions/checkpoints, on Linux
    /// <c>$XDG_DATA_HOME</c> or <c>~/.local/share</c>), which a crashed run resumes from and a finished <c>Fit</c> removes.
    /// </summary>
    public string? CheckpointFolder { get; set; }
    public int CheckpointEverySteps { get; set; } = 200;

    /// <summary>Receives a report after every step.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first bad option.</summary>
    public virtual void Validate()
    {
        Check(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer, "is unknown");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        Check(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be within [0, 1)");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be >= 0");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be >= 0");
        Check(Enum.IsDefined(LearningRateDecay), nameof(LearningRateDecay), LearningRateDecay, "is unknown");
        Check(ModelEmaDecay is null || (ModelEmaDecay > 0 && ModelEmaDecay < 1), nameof(ModelEmaDecay), ModelEmaDecay, "must be within (0, 1) when set");
        Check(GradientClipNorm is null or > 0, nameof(GradientClipNorm), GradientClipNorm, "must be positive when set");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(MaxSteps is null or >= 1, nameof(MaxSteps), MaxSteps, "must be at least 1 when set");
        Check(Enum.IsDefined(Device), nameof(Device), Device, "is unknown");
        Check(CpuThreads is null or >= 1, nameof(CpuThreads), CpuThreads, "must be at least 1 when set");
        Check(DataWorkers is null or (>= 0 and <= 64), nameof(DataWorkers), DataWorkers, "must be within 0..64 when set (0: the training thread makes the batches; null: the trainer's default)");
        Check(PrefetchBatches is >= 1 and <= 64, nameof(PrefetchBatches), PrefetchBatches, "must be within 1..64");
        Check(PixelCacheBytes >= 0, nameof(PixelCacheBytes), PixelCacheBytes, "must be >= 0 (0: never keep the decoded images)");
        Check(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be at least 1 when set");
        Check(ValidateEveryEpochs >= 1, nameof(ValidateEveryEpochs), ValidateEveryEpochs, "must be at least 1");
        Check(CheckpointEverySteps >= 1, nameof(CheckpointEverySteps), CheckpointEverySteps, "must be at least 1");
        if (CheckpointFolder != null && !EnableCheckpoints)
            throw new ArgumentException($"{nameof(CheckpointFolder)} ('{CheckpointFolder}') is set but {nameof(EnableCheckpoints)} is false; leave {nameof(CheckpointFolder)} null to train without checkpoints, or set {nameof(EnableCheckpoints)} to true.", nameof(CheckpointFolder));
        if (CheckpointFolder != null && (string.IsNullOrWhiteSpace(CheckpointFolder) || CheckpointFolder.IndexOfAny(Path.GetInvalidPathChars()) >= 0))
            throw new ArgumentException($"{nameof(CheckpointFolder)} '{CheckpointFolder}' is not a folder path.", nameof(CheckpointFolder));
        if (FreezeBackboneUpTo != null && !FreezeBackbone)
            throw new ArgumentException($"{nameof(FreezeBackboneUpTo)} ('{FreezeBackboneUpTo}') is set but {nameof(FreezeBackbone)} is false; set both to freeze part of the backbone.", nameof(FreezeBackboneUpTo));
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> "<paramref name="name"/> <paramref name="rule"/>." unless <paramref name="ok"/>.</summary>
    protected static void Check(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
    }

    /// <summary>The part of a checkpoint's fingerprint these options give: what must agree to continue a run.</summary>
    private protected string OptimizationFingerprint => $"{Optimizer}|lr={LearningRate}|bs={BatchSize}";

    /// <summary>The run's settings every family shares, named in a checkpoint's fingerprint (<see cref="CheckpointFingerprint"/>).</summary>
    internal IEnumerable<(string Name, object? Value)> RunFingerprint(int totalSteps) =>
    [
        (nameof(Seed), Seed), (nameof(Momentum), Momentum), (nameof(WeightDecay), WeightDecay), (nameof(WarmupSteps), WarmupSteps),
        (nameof(LearningRateDecay), LearningRateDecay), (nameof(GradientClipNorm), GradientClipNorm), ("Steps", totalSteps),
        (nameof(ValidateEveryEpochs), ValidateEveryEpochs), (nameof(EarlyStoppingPatience), EarlyStoppingPatience),
        (nameof(ReturnBestValidatedModel), ReturnBestValidatedModel),
    ];

    /// <summary>The folder checkpoints go to when <see cref="CheckpointFolder"/> is null: one per fingerprint (options and
    /// data) under the user's local data folder.</summary>
    internal static string DefaultCheckpointFolder(string logSource, string fingerprint)
    {
        string root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root)) root = Path.GetTempPath();
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fingerprint)))[..16];
        return Path.Combine(root, "MLNetExtensions", "checkpoints", $"{logSource}-{hash}");
    }
}
