using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// Exports a ResNet-18-shaped network built from the exportable blocks, then times ONNX Runtime on the exported
/// model against the baseline: TorchSharp's eval forward of the same network, same input, same process.
/// </summary>
public sealed class OnnxExportBenchmark : IBenchmark
{
    public string Name => "onnx-export";
    public string Description => "ResNet-18 from exportable blocks: export time, ONNX Runtime vs TorchSharp eval forward (batch 1 and 8, 224×224)";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(0);
        using var net = ResNet18();
        net.eval();

        // The first export includes JIT and libtorch warm-up; the second is what a later export costs.
        byte[] bytes = [];
        var exportMs = new double[2];
        for (int i = 0; i < 2; i++)
        {
            var export = Stopwatch.StartNew();
            using var stream = new MemoryStream();
            OnnxExporter.Export(net, (3, 224, 224), stream);
            exportMs[i] = export.Elapsed.TotalMilliseconds;
            bytes = stream.ToArray();
        }
        output.WriteLine($"export: {exportMs[0]:F0} ms first, {exportMs[1]:F0} ms warm; {bytes.Length / 1e6:F1} MB, {net.parameters().Sum(p => p.numel()) / 1e6:F1} M parameters");

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(bytes, options);
        foreach (int batch in new[] { 1, 8 })
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn(batch, 3, 224, 224);
            var data = x.data<float>().ToArray();
            float[] onnxOut = [];
            Tensor torchOut = x;
            double torchMs = Median(() => { using var g = torch.no_grad(); torchOut = net.call(x); });
            double onnxMs = Median(() => onnxOut = RunOnnx(session, data, x.shape));
            var expected = torchOut.data<float>().ToArray();
            double maxDiff = expected.Zip(onnxOut, (a, b) => Math.Abs(a - b)).Max();
            double maxAbs = expected.Max(Math.Abs);
            output.WriteLine($"batch {batch}: TorchSharp {batch * 1000 / torchMs:F1} img/s ({torchMs:F1} ms), ONNX Runtime {batch * 1000 / onnxMs:F1} img/s ({onnxMs:F1} ms), ratio ONNX/TorchSharp throughput {torchMs / onnxMs:F2}x, max |diff| {maxDiff:G2} (max |output| {maxAbs:G2})");
        }
    }

    private static float[] RunOnnx(InferenceSession session, float[] data, long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [input], ["output"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    // One warm-up call, then the median of 7 timed calls.
    private static double Median(Action run)
    {
        run();
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            var sw = Stopwatch.StartNew();
            run();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return times.Order().ElementAt(times.Count / 2);
    }

    // torchvision's resnet18 layout: stem, 4 stages of 2 basic blocks, global pooling, 1000-way classifier.
    private static nn.Module<Tensor, Tensor> ResNet18()
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("stem", new ConvBnAct(3, 64, kernelSize: 7, stride: 2)),
            ("maxpool", nn.MaxPool2d(3, stride: 2, padding: 1)),
        };
        long channels = 64;
        foreach (var (width, stride, name) in new[] { (64L, 1L, "layer1"), (128L, 2L, "layer2"), (256L, 2L, "layer3"), (512L, 2L, "layer4") })
        {
            layers.Add((name, nn.Sequential(new ResidualBlock(channels, width, stride), new ResidualBlock(width, width))));
            channels = width;
        }
        layers.Add(("avgpool", new GlobalAvgPool(flatten: true)));
        layers.Add(("fc", nn.Linear(512, 1000)));
        return nn.Sequential(layers);
    }
}
