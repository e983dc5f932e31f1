using MLNetExtensions.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static MLNetExtensions.Tests.Onnx.OnnxTestKit;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>
/// The reference ONNX checker (Debian's python3-onnx, <c>check_model(full_check=True)</c>, which also runs strict
/// shape inference) accepts what the exporter writes: a composed network and a graph using every op of OnnxOps.
/// </summary>
[TestClass]
public sealed class OnnxCheckerTests
{
    [TestMethod]
    public void TheCheckerAcceptsAnExportedNetwork()
    {
        TorchRuntime.EnsureLoaded();
        using var net = Randomize(torch.nn.Sequential(
            ("features", BlockParityTests.MiniResNet()),
            ("softmax", torch.nn.Softmax(1))), seed: 40);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Classification, Enumerable.Range(0, 10).Select(i => $"class{i}").ToArray(), 3, 32, 32,
            mean: [0.485f, 0.456f, 0.406f], std: [0.229f, 0.224f, 0.225f]);
        AssertAccepted(path => OnnxExporter.Export(net, (3, 32, 32), path, metadata));
    }

    [TestMethod]
    public void TheCheckerAcceptsEveryOp()
    {
        TorchRuntime.EnsureLoaded();
        using var blocks = Randomize(torch.nn.Sequential(
            new ConvBnAct(4, 4, activation: Activation.LeakyReLU),
            new ConcatBranches(new DepthwiseSeparableConv(4, 4, activation: Activation.ReLU6), new ConvBnAct(4, 4, kernelSize: 1, activation: Activation.Sigmoid)),
            new Upsample(2.0), new Upsample(5, 7, OnnxResizeMode.Nearest),
            torch.nn.BatchNorm2d(8), torch.nn.Tanh(),
            torch.nn.MaxPool2d(2, ceil_mode: true), torch.nn.AvgPool2d(3, stride: 1, padding: 1)), seed: 41);
        AssertAccepted(path =>
        {
            var g = OnnxExporter.BuildGraph(blocks, (4, 8, 8));
            // The ops no block uses, on a second input.
            var x = g.AddInput("x", OnnxGraphBuilder.BatchDimension, 4, 6, 6);
            var y = OnnxOps.Pad(g, x, [0, 0, 1, 1, 0, 0, 1, 1], OnnxPadMode.Reflect);                  // (N, 4, 8, 8)
            y = OnnxOps.Slice(g, y, [0, 0], [2, 8], [1, 3], [1, 2]);                                      // (N, 2, 8, 4)
            y = OnnxOps.Mul(g, y, g.AddInitializer("two", [2f]));
            y = OnnxOps.ResizeLike(g, OnnxOps.GlobalAveragePool(g, y), x, OnnxResizeMode.Bilinear);     // (N, 2, 6, 6)
            y = OnnxOps.Transpose(g, y, [0, 2, 3, 1]);                                                    // (N, 6, 6, 2)
            y = OnnxOps.MatMul(g, y, g.AddInitializer("w", [1f, 0f, 0f, 1f, 1f, 1f], 2, 3));              // (N, 6, 6, 3)
            y = OnnxOps.Reshape(g, y, [0, -1]);                                                           // (N, 108)
            y = OnnxOps.Gemm(g, y, g.AddInitializer("fc", new float[108 * 5], 5, 108), null, transB: true); // (N, 5)
            y = OnnxOps.Relu(g, OnnxOps.Identity(g, y));
            y = OnnxOps.Concat(g, [OnnxOps.Flatten(g, y, 1), y], 1);                                      // (N, 10)
            g.AddOutput(y, "extra", OnnxGraphBuilder.BatchDimension, 10);
            g.Save(path);
        });
    }

    private static void AssertAccepted(Action<string> write)
    {
        var path = Path.Combine(Path.GetTempPath(), $"checker-{Guid.NewGuid():N}.onnx");
        try
        {
            write(path);
            var problem = RunOnnxChecker(path);
            Assert.IsNull(problem, $"onnx.checker rejected the model: {problem}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
