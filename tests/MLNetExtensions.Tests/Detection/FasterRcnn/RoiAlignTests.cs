using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>
/// <see cref="RoiAlign"/> against torchvision itself: TestData/RoiAlign/make_roi_align_fixtures.py ran
/// <c>torchvision.ops.roi_align</c> (python3-torchvision 0.14, CPU) on fixed random (2, 3, 10, 12) maps and 14 RoIs
/// (inside, across each border, tiny, empty, reversed, outside, on both images) for spatial scale 1 and 0.5, sampling
/// ratio 0 (adaptive) and 2, aligned and not, output 2×3 and 7×7, and saved the outputs and the gradients of
/// <c>(out · weights).sum()</c> with respect to the maps.
/// </summary>
[TestClass]
public sealed class RoiAlignTests
{
    private const double Tolerance = 1e-5;

    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    internal static SafetensorsFile Fixture() => SafetensorsFile.Open(TempFolder.Fixture(Path.Combine("RoiAlign", "roi_align.safetensors")));

    private static string Case(float scale, int ratio, bool aligned, int h, int w) =>
        $"s{scale.ToString(System.Globalization.CultureInfo.InvariantCulture)}.r{ratio}.{(aligned ? "aligned" : "unaligned")}.{h}x{w}";

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{what}: shape");
        double diff = (actual.detach() - expected).abs().max().item<float>();
        double scale = expected.abs().max().item<float>();
        Assert.IsGreaterThan(1e-2, scale, $"{what} is (almost) all zero, so the comparison proves nothing");
        Assert.IsLessThanOrEqualTo(Tolerance, diff, $"{what}: max |ours - torchvision| = {diff:G3} (max |torchvision| = {scale:G3})");
    }

    [TestMethod]
    [DataRow(1f, 0, true)]
    [DataRow(1f, 0, false)]
    [DataRow(1f, 2, true)]
    [DataRow(1f, 2, false)]
    [DataRow(0.5f, 0, true)]
    [DataRow(0.5f, 0, false)]
    [DataRow(0.5f, 2, true)]
    [DataRow(0.5f, 2, false)]
    public void ForwardAndFeatureGradientMatchTorchvision(float scale, int ratio, bool aligned)
    {
        var file = Fixture();
        using var scope = torch.NewDisposeScope();
        var rois = file.ReadTensor("rois");
        foreach (var (h, w) in new[] { (2, 3), (7, 7) })
        {
            var name = Case(scale, ratio, aligned, h, w);
            var features = file.ReadTensor("features").requires_grad_(true);
            var output = RoiAlign.Apply(features, rois, h, w, scale, ratio, aligned);
            AssertClose(file.ReadTensor($"out.{name}"), output, $"output {name}");
            (output * file.ReadTensor($"weights.{h}x{w}")).sum().backward();
            AssertClose(file.ReadTensor($"grad.{name}"), features.grad!, $"gradient {name}");
        }
    }

    [TestMethod]
    public void OneImageBatchFloat64AndNoRoisGiveTheSameNumbers()
    {
        var file = Fixture();
        using var scope = torch.NewDisposeScope();
        var features = file.ReadTensor("features");
        var rois = file.ReadTensor("rois");
        var expected = file.ReadTensor($"out.{Case(0.5f, 0, true, 7, 7)}");

        // The RoIs of image 1 pooled from a batch of that image alone (the one-image path).
        var ofSecond = rois[.., 0].eq(1).nonzero().squeeze(1);
        var alone = rois.index_select(0, ofSecond).index_put_(torch.zeros(1), TensorIndex.Colon, TensorIndex.Single(0));
        var single = RoiAlign.Apply(features[1..2], alone, 7, 7, 0.5f, 0);
        AssertClose(expected.index_select(0, ofSecond), single, "image 1 alone");

        var asDouble = RoiAlign.Apply(features.to_type(ScalarType.Float64), rois.to_type(ScalarType.Float64), 7, 7, 0.5f, 0);
        Assert.AreEqual(ScalarType.Float64, asDouble.dtype);
        AssertClose(expected, asDouble.to_type(ScalarType.Float32), "float64");

        var none = RoiAlign.Apply(features, torch.zeros(0, 5), 7, 7, 0.5f, 0);
        CollectionAssert.AreEqual(new long[] { 0, 3, 7, 7 }, none.shape);
    }

    [TestMethod]
    public void BadRoisAreRejectedWithWhatToDo()
    {
        using var scope = torch.NewDisposeScope();
        var features = torch.randn(2, 3, 10, 12);

        var e = Assert.ThrowsExactly<ArgumentException>(() => RoiAlign.Apply(features, torch.zeros(4, 4), 7, 7, 1f, 2));
        Assert.AreEqual("rois must be (K, 5) rows of batch index, x1, y1, x2, y2, but has shape (4, 4); for boxes (K, 4) of one image, prepend a column of its batch index. (Parameter 'rois')", e.Message);

        var rois = torch.tensor(new float[,] { { 0, 1, 1, 5, 5 }, { 1, 2, 2, 6, 6 }, { 2, 0, 0, 3, 3 } });
        e = Assert.ThrowsExactly<ArgumentException>(() => RoiAlign.Apply(features, rois, 7, 7, 1f, 2));
        Assert.AreEqual("rois[2, 0] is batch index 2, but features holds 2 image(s); the first column of rois must be the index of the box's image, in [0, 1]. (Parameter 'rois')", e.Message);

        rois[0, 0] = torch.tensor(-1f);
        e = Assert.ThrowsExactly<ArgumentException>(() => RoiAlign.Apply(features, rois, 7, 7, 1f, 2));
        Assert.AreEqual("rois[0, 0] is batch index -1, but features holds 2 image(s); the first column of rois must be the index of the box's image, in [0, 1]. (Parameter 'rois')", e.Message);

        rois[0, 0] = torch.tensor(0f);
        rois[1, 3] = torch.tensor(float.NaN);
        e = Assert.ThrowsExactly<ArgumentException>(() => RoiAlign.Apply(features, rois, 7, 7, 1f, 2));
        Assert.AreEqual("rois must be finite, but holds NaN or infinity; check the boxes that produced them (e.g. a diverged box regression). (Parameter 'rois')", e.Message);

        e = Assert.ThrowsExactly<ArgumentException>(() => RoiAlign.Apply(features[0], rois, 7, 7, 1f, 2));
        Assert.AreEqual("features must be (N, C, H, W), but has shape (3, 10, 12). (Parameter 'features')", e.Message);

        var scale = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => RoiAlign.Apply(features, rois, 7, 7, 0f, 2));
        Assert.AreEqual("spatialScale", scale.ParamName);
    }
}
