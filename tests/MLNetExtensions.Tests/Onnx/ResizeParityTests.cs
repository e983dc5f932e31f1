using MLNetExtensions.Onnx;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>
/// ONNX Resize against torch's interpolate: bilinear with align_corners false must be ONNX's half_pixel mode
/// (not align_corners, asymmetric or pytorch_half_pixel), nearest must be asymmetric + floor. Checked numerically
/// for integer and non-integer ratios, up and down, and the 1-pixel output where the half-pixel variants differ.
/// </summary>
[TestClass]
public sealed class ResizeParityTests
{
    [TestInitialize]
    public void LoadTorch() => MLNetExtensions.Torch.TorchRuntime.EnsureLoaded();

    [TestMethod]
    [DataRow(2.0)]
    [DataRow(4.0)]
    [DataRow(0.5)]
    [DataRow(1.5)]
    public void BilinearByScaleMatchesInterpolate(double scale)
    {
        AssertGraphMatches(3, 6, 8,
            (g, x) => OnnxOps.Resize(g, x, [1f, 1f, (float)scale, (float)scale], OnnxResizeMode.Bilinear),
            x => F.interpolate(x, scale_factor: [scale, scale], mode: InterpolationMode.Bilinear, align_corners: false));
    }

    [TestMethod]
    [DataRow(13L, 17L)]
    [DataRow(3L, 4L)]
    [DataRow(1L, 1L)]
    [DataRow(6L, 1L)]
    public void BilinearToSizeMatchesInterpolate(long height, long width)
    {
        AssertGraphMatches(2, 5, 6,
            (g, x) => OnnxOps.ResizeToSpatialSize(g, x, height, width, OnnxResizeMode.Bilinear),
            x => F.interpolate(x, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false));
    }

    [TestMethod]
    public void NearestMatchesInterpolateByScaleAndToSize()
    {
        AssertGraphMatches(2, 5, 6,
            (g, x) => OnnxOps.Resize(g, x, [1f, 1f, 2f, 3f], OnnxResizeMode.Nearest),
            x => F.interpolate(x, scale_factor: [2.0, 3.0], mode: InterpolationMode.Nearest));
        AssertGraphMatches(2, 5, 6,
            (g, x) => OnnxOps.ResizeToSpatialSize(g, x, 13, 4, OnnxResizeMode.Nearest),
            x => F.interpolate(x, size: [13, 4], mode: InterpolationMode.Nearest));
    }

    [TestMethod]
    public void ResizeLikeTakesTheReferenceSizeAtRunTime()
    {
        // DeepLab's last step: logits at 1/4 size are resized back to the input's size.
        AssertGraphMatches(3, 9, 11,
            (g, x) =>
            {
                var small = OnnxOps.MaxPool(g, x, [4, 4], [4, 4], [0, 0, 0, 0], [1, 1], ceilMode: false);
                return OnnxOps.ResizeLike(g, small, x, OnnxResizeMode.Bilinear);
            },
            x => F.interpolate(F.max_pool2d(x, [4, 4]), size: [x.shape[2], x.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false));
    }
}
