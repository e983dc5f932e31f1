using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Onnx;

/// <summary>Shared checks of the ONNX tests: random non-trivial weights, ONNX Runtime runs, parity asserts.</summary>
internal static class OnnxTestKit
{
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Gives every Conv2d/Linear random weights and biases (scaled by 1/√fan-in so activations stay near unit size)
    /// and every BatchNorm2d random γ, β and running statistics far from the identity defaults, then sets eval mode.
    /// </summary>
    public static T Randomize<T>(T module, int seed) where T : nn.Module
    {
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(seed);
        using var noGrad = torch.no_grad();
        foreach (var m in module.modules().Prepend(module))
        {
            switch (m)
            {
                case Conv2d conv:
                    {
                        double fanIn = conv.weight.shape.Skip(1).Aggregate(1L, (a, d) => a * d);
                        conv.weight.copy_(torch.randn(conv.weight.shape) * Math.Sqrt(2.0 / fanIn));
                        conv.bias?.copy_(torch.randn(conv.bias.shape) * 0.2);
                        break;
                    }
                case Linear linear:
                    linear.weight.copy_(torch.randn(linear.weight.shape) * Math.Sqrt(1.0 / linear.in_features));
                    linear.bias?.copy_(torch.randn(linear.bias.shape) * 0.2);
                    break;
                case BatchNorm bn:
                    if (bn.affine)
                    {
                        bn.weight.copy_(torch.rand(bn.num_features) + 0.5);          // γ in [0.5, 1.5)
                        bn.bias!.copy_(torch.randn(bn.num_features) * 0.3);
                    }
                    bn.running_mean!.copy_(torch.randn(bn.num_features) * 0.3);
                    bn.running_var!.copy_(torch.rand(bn.num_features) * 1.5 + 0.25);  // var in [0.25, 1.75)
                    break;
            }
        }
        module.eval();
        return module;
    }

    /// <summary>Sets eval mode (export requires it) and returns the module.</summary>
    public static T Eval<T>(T module) where T : nn.Module
    {
        module.eval();
        return module;
    }

    /// <summary>Runs one float input through an ONNX model and returns its first output and that output's shape.</summary>
    public static (float[] Data, long[] Shape) Run(InferenceSession session, string inputName, float[] data, long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [session.OutputNames[0]]);
        var output = outputs[0];
        return (output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape);
    }

    /// <summary>
    /// Exports <paramref name="module"/> once (dynamic batch) and asserts that ONNX Runtime matches the module's eval
    /// forward within <paramref name="tolerance"/> on random inputs of batch size 1 and 3. Returns the model bytes.
    /// </summary>
    public static byte[] AssertExportMatches(nn.Module<Tensor, Tensor> module, long c, long h, long w, int seed = 7, double tolerance = Tolerance)
    {
        using var stream = new MemoryStream();
        OnnxExporter.Export(module, (c, h, w), stream);
        var bytes = stream.ToArray();
        using var session = new InferenceSession(bytes);
        foreach (long batch in new long[] { 1, 3 })
        {
            torch.manual_seed(seed + batch);
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var x = torch.randn(batch, c, h, w);
            var expected = module.call(x);
            var (actual, shape) = Run(session, "input", x.data<float>().ToArray(), x.shape);
            AssertClose(expected, actual, shape, tolerance, $"batch {batch}");
        }
        return bytes;
    }

    /// <summary>
    /// Asserts that a hand-built graph with input <c>x</c> (N, C, H, W) computes <paramref name="reference"/> on random
    /// inputs of batch size 1 and 3; <paramref name="build"/> emits the nodes and returns the result's name.
    /// </summary>
    public static void AssertGraphMatches(long c, long h, long w, Func<OnnxGraphBuilder, string, string> build, Func<Tensor, Tensor> reference, double tolerance = Tolerance)
    {
        TorchRuntime.EnsureLoaded();
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", OnnxGraphBuilder.BatchDimension, c, h, w);
        var y = build(g, x);
        long[] outShape;
        using (var probe = torch.zeros(1, c, h, w))
        using (var probeOut = reference(probe))
            outShape = probeOut.shape;
        g.AddOutput(y, "y", [OnnxGraphBuilder.BatchDimension, .. outShape.Skip(1).Select(d => (OnnxDimension)d)]);
        using var session = new InferenceSession(g.ToBytes());
        foreach (long batch in new long[] { 1, 3 })
        {
            torch.manual_seed(100 + batch);
            using var scope = torch.NewDisposeScope();
            var input = torch.randn(batch, c, h, w);
            var expected = reference(input);
            var (actual, shape) = Run(session, "x", input.data<float>().ToArray(), input.shape);
            AssertClose(expected, actual, shape, tolerance, $"batch {batch}");
        }
    }

    public static void AssertClose(Tensor expected, float[] actual, long[] actualShape, double tolerance, string what)
    {
        CollectionAssert.AreEqual(expected.shape, actualShape, $"{what}: output shape ({string.Join(", ", actualShape)}) differs from torch's ({string.Join(", ", expected.shape)})");
        var e = expected.detach().contiguous().to_type(ScalarType.Float32).data<float>().ToArray();
        double maxDiff = 0, maxAbs = 0;
        for (int i = 0; i < e.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(e[i] - actual[i]));
            maxAbs = Math.Max(maxAbs, Math.Abs(e[i]));
        }
        Assert.IsTrue(maxDiff <= tolerance, $"{what}: max |torch - onnx| = {maxDiff:G3} > {tolerance:G3} (max |torch| = {maxAbs:G3})");
        // A parity test on an all-zero output could not fail: make sure the numbers are non-trivial.
        Assert.IsTrue(maxAbs > 1e-2, $"{what}: the output is (almost) all zero, so the comparison proves nothing");
    }

    /// <summary>Op types of the model's nodes, in order.</summary>
    public static string[] OpTypes(byte[] model) =>
        MLNetExtensions.Onnx.Proto.ModelProto.Parser.ParseFrom(model).Graph.Node.Select(n => n.OpType).ToArray();

    /// <summary>Runs an exported detector on (N, C, H, W) float pixels: its boxes and scores outputs, with their shapes.</summary>
    public static (float[] Boxes, long[] BoxShape, float[] Scores, long[] ScoreShape) RunDetector(InferenceSession session, Tensor images)
    {
        var pixels = images.contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(pixels, images.shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [MLNetExtensions.Scoring.ScoringColumns.OnnxPixels], [value],
            [MLNetExtensions.Scoring.ScoringColumns.OnnxBoxes, MLNetExtensions.Scoring.ScoringColumns.OnnxScores]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape,
                outputs[1].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorTypeAndShape().Shape);
    }

    /// <summary>Writes <paramref name="onnx"/> to a temporary file, runs <see cref="RunOnnxChecker"/> on it and deletes it.</summary>
    public static string? CheckBytes(byte[] onnx, string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, onnx);
            return RunOnnxChecker(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Runs <c>onnx.checker.check_model(model, full_check=True)</c> with Debian's python3-onnx. Returns null when it
    /// passes, the checker's message when it fails; calls Assert.Inconclusive (or fails when env CI is set) when
    /// python3 or its onnx module is missing.
    /// </summary>
    public static string? RunOnnxChecker(string modelPath)
    {
        const string python = "/usr/bin/python3";
        const string script = "import sys, onnx\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint('ok', onnx.__version__)";
        string? missing = null;
        if (!File.Exists(python))
            missing = $"{python} does not exist (apt-get install python3 python3-onnx)";
        else
        {
            var probe = RunProcess(python, ["-c", "import onnx"]);
            if (probe.ExitCode != 0) missing = $"python3 has no onnx module (apt-get install python3-onnx): {probe.Error.Trim()}";
        }
        if (missing != null)
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
                Assert.Fail($"The ONNX checker is required on CI: {missing}.");
            Assert.Inconclusive($"The ONNX checker could not run: {missing}.");
        }
        var result = RunProcess(python, ["-c", script, modelPath]);
        return result.ExitCode == 0 && result.Output.StartsWith("ok", StringComparison.Ordinal) ? null : $"{result.Output}\n{result.Error}".Trim();
    }

    internal static (int ExitCode, string Output, string Error) RunProcess(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            Assert.Fail($"{file} did not finish within 60 s.");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
