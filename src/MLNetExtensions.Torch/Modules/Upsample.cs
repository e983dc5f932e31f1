using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// Resizes feature maps by a scale factor or to a fixed size, bilinearly with <c>align_corners: false</c> (the
/// torchvision segmentation default) or by nearest neighbour. Exported as ONNX Resize with the coordinate mode
/// that gives the same numbers (see <see cref="OnnxResizeMode"/>); the batch size stays dynamic.
/// </summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly double? _scale;
    private readonly long[]? _size;

    /// <summary>Resizes by <paramref name="scaleFactor"/> on both spatial axes: H' = floor(H · scale).</summary>
    public Upsample(double scaleFactor, OnnxResizeMode mode = OnnxResizeMode.Bilinear) : base(nameof(Upsample))
    {
        if (!(scaleFactor > 0) || !double.IsFinite(scaleFactor))
            throw new ArgumentOutOfRangeException(nameof(scaleFactor), scaleFactor, "The scale factor must be finite and positive.");
        CheckMode(mode);
        _scale = scaleFactor;
        Mode = mode;
    }

    /// <summary>Resizes to <paramref name="height"/> × <paramref name="width"/>.</summary>
    public Upsample(long height, long width, OnnxResizeMode mode = OnnxResizeMode.Bilinear) : base(nameof(Upsample))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        CheckMode(mode);
        _size = [height, width];
        Mode = mode;
    }

    /// <summary>Bilinear or nearest.</summary>
    public OnnxResizeMode Mode { get; }

    /// <summary>The scale factor, or null when resizing to a fixed size.</summary>
    public double? ScaleFactor => _scale;

    /// <summary>(N, C, H, W) → (N, C, H', W').</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var mode = Mode == OnnxResizeMode.Bilinear ? InterpolationMode.Bilinear : InterpolationMode.Nearest;
        bool? alignCorners = Mode == OnnxResizeMode.Bilinear ? false : null;
        var scale = _scale is { } s ? new[] { s, s } : null;
        return torch.nn.functional.interpolate(input, size: _size, scale_factor: scale, mode: mode, align_corners: alignCorners)
            .MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public string Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        if (_size is { } size)
            return OnnxOps.ResizeToSpatialSize(graph, input, size[0], size[1], Mode);
        var s = (float)_scale!.Value;
        return OnnxOps.Resize(graph, input, [1f, 1f, s, s], Mode);
    }

    private static void CheckMode(OnnxResizeMode mode)
    {
        if (!Enum.IsDefined(mode))
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown resize mode.");
    }
}
