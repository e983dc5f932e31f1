using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// How a <see cref="DetectionTransformer"/> or <see cref="SegmentationTransformer"/> runs its network: which input
/// column holds the image paths and on which device ONNX Runtime runs (<see cref="GpuDeviceId"/>, as ML.NET's
/// <c>ApplyOnnxModel</c>). Validated where set.
/// </summary>
public sealed record ScoringOptions
{
    private readonly string? _imagePathColumn;
    private readonly int? _gpuDeviceId;

    /// <summary>
    /// The input column of image paths. <see langword="null"/> (the default): <c>ImagePath</c> for <c>Create</c>, the
    /// column the saved model was built for for <c>Load</c>.
    /// </summary>
    public string? ImagePathColumn
    {
        get => _imagePathColumn;
        init
        {
            if (value != null && string.IsNullOrWhiteSpace(value))
                throw new ArgumentException("ImagePathColumn must name a column (or be null for the default).", nameof(ImagePathColumn));
            _imagePathColumn = value;
        }
    }

    /// <summary>
    /// The CUDA device to run the network on; <see langword="null"/> (the default) runs on the CPU. Needs ONNX Runtime's
    /// CUDA build in the application (README "GPU scoring": <c>MLNetExtensionsOnnxRuntimeGpu=true</c> and
    /// <c>Microsoft.ML.OnnxRuntime.Gpu.Linux</c>), CUDA 12 and cuDNN 9.
    /// </summary>
    public int? GpuDeviceId
    {
        get => _gpuDeviceId;
        init
        {
            if (value < 0)
                throw new ArgumentOutOfRangeException(nameof(GpuDeviceId), value, "GpuDeviceId is a CUDA device index (0 for the first GPU) or null for the CPU.");
            _gpuDeviceId = value;
        }
    }

    /// <summary>
    /// When the CUDA session cannot be made (no CUDA build of ONNX Runtime, no driver, no device): <see langword="true"/>
    /// (the default) scores on the CPU and logs the reason to the <c>MLContext</c>'s <c>Log</c> (also in
    /// <see cref="OnnxScoringTransformer.GpuFallbackReason"/>); <see langword="false"/> throws.
    /// </summary>
    public bool FallbackToCpu { get; init; } = true;

    internal string ImagePathColumnOr(string defaultColumn) => ImagePathColumn ?? defaultColumn;

    internal static ScoringOptions Default { get; } = new();

    internal static ScoringOptions ForColumn(string imagePathColumn) => new() { ImagePathColumn = imagePathColumn };
}
