using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Tests.Detection.FasterRcnn;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>
/// Each op of <see cref="OnnxOps"/>, and each TorchSharp module the exporter writes directly, against the torch op it
/// stands for, on random inputs of batch size 1 and 3 through one dynamic-batch model.
/// </summary>
[TestClass]
public sealed class OpParityTests
{
    [TestInitialize]
    public void LoadTorch() => MLNetExtensions.Torch.TorchRuntime.EnsureLoaded();

    [TestMethod]
    public void ConvWithRectangularKernelStridesPadsDilationAndGroupsMatches()
    {
        using var conv = Randomize(nn.Conv2d(4, 6, (3, 5), stride: (2, 1), padding: (1, 2), dilation: (2, 1), groups: 2), seed: 20);
        AssertExportMatches(conv, 4, 11, 9);
    }

    [TestMethod]
    public void ConvWithSamePaddingAndAnEvenKernelMatches()
    {
        // torch pads "same" with the odd pixel at the end; the exporter writes those asymmetric pads.
        using var conv = Randomize(nn.Conv2d(3, 4, 4, Padding.Same, dilation: 1), seed: 21);
        AssertExportMatches(conv, 3, 7, 8);
    }

    [TestMethod]
    public void StandaloneBatchNormMatches()
    {
        using var affine = Randomize(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(5)), seed: 22);
        var model = AssertExportMatches(affine, 5, 4, 6);
        CollectionAssert.Contains(OpTypes(model), "BatchNormalization");

        using var plain = Randomize(nn.Sequential(nn.Tanh(), nn.BatchNorm2d(5, affine: false)), seed: 23);
        using (torch.no_grad())
        {
            var bn = (TorchSharp.Modules.BatchNorm2d)plain.children().Last();
            bn.running_mean!.copy_(torch.linspace(-0.5, 0.5, 5));
            bn.running_var!.copy_(torch.linspace(0.3, 2.0, 5));
        }
        AssertExportMatches(plain, 5, 4, 6);
    }

    [TestMethod]
    public void ActivationModulesMatch()
    {
        nn.Module<Tensor, Tensor>[] activations = [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.3), nn.Sigmoid(), nn.Tanh(), nn.Softmax(1)];
        foreach (var activation in activations)
        {
            // Scale the input so that ReLU6's upper clip is reached too.
            using var net = nn.Sequential(nn.Conv2d(3, 3, 1), activation);
            Randomize(net, seed: 24);
            using (torch.no_grad()) ((TorchSharp.Modules.Conv2d)net.children().First()).weight.mul_(8);
            AssertExportMatches(net, 3, 5, 5);
        }
    }

    [TestMethod]
    public void MaxPoolMatchesWithPaddingDilationAndCeilMode()
    {
        using var padded = Eval(nn.MaxPool2d(3, stride: 2, padding: 1));
        AssertExportMatches(padded, 3, 9, 10);
        using var dilated = Eval(nn.MaxPool2d(2, stride: 1, dilation: 2));
        AssertExportMatches(dilated, 3, 9, 10);
        // SSD300's VGG pool3: ceil mode turns 75 into 38.
        using var ceil = Eval(nn.MaxPool2d(2, stride: 2, ceil_mode: true));
        AssertExportMatches(ceil, 2, 15, 75);
        // Ceil mode with padding: torch drops a last window that would start in the right padding (5 → 3, not 4).
        using var ceilPadded = Eval(nn.MaxPool2d(2, stride: 2, padding: 1, ceil_mode: true));
        AssertExportMatches(ceilPadded, 2, 5, 5);
    }

    [TestMethod]
    public void AveragePoolMatchesWithAndWithoutCountingPaddingAndInCeilMode()
    {
        using var counting = Eval(nn.AvgPool2d(3, stride: 2, padding: 1, count_include_pad: true));
        AssertExportMatches(counting, 3, 9, 10);
        using var notCounting = Eval(nn.AvgPool2d(3, stride: 2, padding: 1, count_include_pad: false));
        AssertExportMatches(notCounting, 3, 9, 10);
        // Ceil mode: the clipped last window is divided by its size within the padded input, as torch does.
        using var ceil = Eval(nn.AvgPool2d(2, stride: 2, padding: 1, ceil_mode: true));
        AssertExportMatches(ceil, 2, 5, 5);
        using var ceilNotCounting = Eval(nn.AvgPool2d(3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false));
        AssertExportMatches(ceilNotCounting, 2, 6, 6);
    }

    [TestMethod]
    public void GlobalPoolFlattenAndLinearMatch()
    {
        // AdaptiveAvgPool2d(1) → Flatten → Linear is written GlobalAveragePool → Flatten → Gemm.
        using var head = Randomize(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4)), seed: 25);
        var model = AssertExportMatches(head, 6, 5, 7);
        CollectionAssert.AreEqual(new[] { "GlobalAveragePool", "Flatten", "Gemm" }, OpTypes(model));

        // A Linear on a 4-D tensor acts on the last axis: written MatMul + Add.
        using var lastAxis = Randomize(nn.Sequential(nn.Linear(7, 3)), seed: 26);
        var model4d = AssertExportMatches(lastAxis, 2, 5, 7);
        CollectionAssert.AreEqual(new[] { "MatMul", "Add" }, OpTypes(model4d));
    }

    [TestMethod]
    public void TorchUpsampleModulesMatch()
    {
        using var nearest = Eval(nn.Upsample(scale_factor: [2.0, 3.0], mode: UpsampleMode.Nearest));
        AssertExportMatches(nearest, 2, 4, 5);
        using var bilinear = Eval(nn.Upsample(size: [11, 7], mode: UpsampleMode.Bilinear, align_corners: false));
        AssertExportMatches(bilinear, 2, 4, 5);
    }

    [TestMethod]
    public void ElementwiseOpsMatch()
    {
        var scale = Enumerable.Range(0, 3).Select(i => 0.5f + i).ToArray();
        AssertGraphMatches(3, 4, 5,
            (g, x) =>
            {
                var s = g.AddInitializer("scale", scale, 1, 3, 1, 1);
                var y = OnnxOps.Mul(g, x, s);
                y = OnnxOps.Add(g, y, x);
                y = OnnxOps.Clip(g, y, -0.5f, 1.25f);
                return OnnxOps.Identity(g, y);
            },
            x => (x * torch.tensor(scale).reshape(1, 3, 1, 1) + x).clamp(-0.5, 1.25));
    }

    [TestMethod]
    public void ConcatAndSoftmaxMatch()
    {
        AssertGraphMatches(3, 4, 5,
            (g, x) => OnnxOps.Softmax(g, OnnxOps.Concat(g, [x, OnnxOps.Sigmoid(g, x)], 1), 1),
            x => torch.cat([x, x.sigmoid()], 1).softmax(1));
    }

    [TestMethod]
    public void TransposeAndReshapeMatchAnSsdHeadLayout()
    {
        // SSD heads: (N, A·4, H, W) → (N, H, W, A·4) → (N, H·W·A, 4), with 0 keeping the dynamic batch.
        AssertGraphMatches(8, 3, 5,
            (g, x) => OnnxOps.Reshape(g, OnnxOps.Transpose(g, x, [0, 2, 3, 1]), [0, -1, 4]),
            x => x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4));
    }

    [TestMethod]
    public void FlattenMatches()
    {
        AssertGraphMatches(3, 4, 5, (g, x) => OnnxOps.Flatten(g, x, 1), x => x.flatten(1));
    }

    [TestMethod]
    public void SliceMatchesWithStepsAndOpenEnds()
    {
        AssertGraphMatches(6, 7, 8,
            (g, x) => OnnxOps.Slice(g, x, starts: [1, 2, 0], ends: [5, long.MaxValue, 8], axes: [1, 2, 3], steps: [2, 1, 3]),
            x => x[.., 1..5, 2.., ..].index(TensorIndex.Ellipsis, TensorIndex.Slice(0, 8, 3))[.., ..].index(TensorIndex.Colon, TensorIndex.Slice(0, null, 2)));
    }

    [TestMethod]
    [DataRow(OnnxPadMode.Constant, PaddingModes.Constant)]
    [DataRow(OnnxPadMode.Reflect, PaddingModes.Reflect)]
    [DataRow(OnnxPadMode.Edge, PaddingModes.Replicate)]
    public void PadMatchesTorchPad(OnnxPadMode onnxMode, PaddingModes torchMode)
    {
        float value = onnxMode == OnnxPadMode.Constant ? 0.75f : 0f;
        AssertGraphMatches(2, 5, 6,
            // ONNX: begins of (N, C, H, W), then ends; torch: (left, right, top, bottom) from the last axis.
            (g, x) => OnnxOps.Pad(g, x, [0, 0, 1, 2, 0, 0, 3, 1], onnxMode, value),
            x => F.pad(x, [2, 1, 1, 3], torchMode, value));
    }

    [TestMethod]
    public void MatMulAndGemmMatch()
    {
        var weights = Enumerable.Range(0, 5 * 3).Select(i => MathF.Sin(i)).ToArray();
        AssertGraphMatches(2, 4, 5,
            (g, x) => OnnxOps.MatMul(g, x, g.AddInitializer("w", weights, 5, 3)),
            x => x.matmul(torch.tensor(weights).reshape(5, 3)));
        AssertGraphMatches(1, 4, 5,
            (g, x) =>
            {
                var flat = OnnxOps.Flatten(g, x, 1);                            // (N, 20)
                var w = g.AddInitializer("w", Enumerable.Range(0, 20 * 3).Select(i => MathF.Cos(i) / 4).ToArray(), 20, 3);
                var c = g.AddInitializer("c", [0.1f, -0.2f, 0.3f], 3);
                return OnnxOps.Gemm(g, flat, w, c, alpha: 2f, beta: 0.5f);
            },
            x => x.flatten(1).matmul(torch.tensor(Enumerable.Range(0, 20 * 3).Select(i => MathF.Cos(i) / 4).ToArray()).reshape(20, 3)) * 2
                 + torch.tensor(new[] { 0.1f, -0.2f, 0.3f }) * 0.5);
    }

    [TestMethod]
    [DataRow(0, true)]
    [DataRow(2, true)]
    [DataRow(0, false)]
    [DataRow(2, false)]
    public void RoiAlignMatchesOurRoiAlign(int samplingRatio, bool aligned)
    {
        // The torchvision fixture's maps and RoIs (borders, tiny, empty, reversed and outside boxes, two images).
        var file = RoiAlignTests.Fixture();
        using var scope = torch.NewDisposeScope();
        var features = file.ReadTensor("features");                                           // (2, 3, 10, 12)
        var rois = file.ReadTensor("rois");                                                   // (K, 5)
        var boxes = rois[.., 1..].contiguous();                                               // (K, 4)
        var batchIndices = rois[.., 0].to_type(ScalarType.Int64).contiguous();                // (K)
        foreach (float scale in new[] { 1f, 0.5f })
        {
            foreach (var (h, w) in new[] { (2, 3), (7, 7) })
            {
                var g = new OnnxGraphBuilder();
                var x = g.AddInput("x", OnnxGraphBuilder.BatchDimension, 3, 10, 12);
                var r = g.AddInput("rois", "K", 4);
                var b = g.AddInput("batch_indices", OnnxElementType.Int64, "K");
                var y = OnnxOps.RoiAlign(g, x, r, b, h, w, scale, samplingRatio, aligned);
                g.AddOutput(y, "y", "K", 3, h, w);
                using var session = new InferenceSession(g.ToBytes());
                using var xValue = OrtValue.CreateTensorValueFromMemory(features.data<float>().ToArray(), features.shape);
                using var rValue = OrtValue.CreateTensorValueFromMemory(boxes.data<float>().ToArray(), boxes.shape);
                using var bValue = OrtValue.CreateTensorValueFromMemory(batchIndices.data<long>().ToArray(), batchIndices.shape);
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, ["x", "rois", "batch_indices"], [xValue, rValue, bValue], ["y"]);
                var expected = RoiAlign.Apply(features, rois, h, w, scale, samplingRatio, aligned);
                AssertClose(expected, outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape, 1e-5,
                    $"scale {scale}, {h}x{w}");
            }
        }
    }
}
