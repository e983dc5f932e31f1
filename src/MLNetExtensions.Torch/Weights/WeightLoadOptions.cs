namespace MLNetExtensions.Torch.Weights;

/// <summary>How <see cref="SafetensorsWeights.LoadInto"/> matches a file's tensors to a module's state_dict keys.</summary>
public sealed record WeightLoadOptions
{
    /// <summary>
    /// File keys starting with one of these are skipped instead of reported as unexpected: the parts of a pretrained
    /// model that the backbone leaves out, e.g. torchvision's classifier heads <c>fc.</c> (ResNet) or
    /// <c>classifier.</c> (MobileNetV2).
    /// </summary>
    public IReadOnlyList<string> IgnoredPrefixes { get; init; } = [];

    /// <summary>
    /// Module keys ending with one of these may be absent from the file: by default BatchNorm's
    /// <c>num_batches_tracked</c>, a step counter that some exporters drop and that plays no part in eval.
    /// </summary>
    public IReadOnlyList<string> AllowedMissingSuffixes { get; init; } = ["num_batches_tracked"];

    /// <summary>When true, any module key may be absent from the file (those weights keep their values).</summary>
    public bool AllowMissing { get; init; }
}
