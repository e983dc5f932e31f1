using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// <see cref="ScoringOptions.GpuDeviceId"/> where CUDA cannot run (this suite's machines: the CPU build of ONNX
/// Runtime, no GPU): the transformer scores on the CPU, says why (property and MLContext log), and gives the CPU
/// results; without <see cref="ScoringOptions.FallbackToCpu"/> it throws with the same reason.
/// </summary>
[TestClass]
public sealed class GpuScoringTests
{
    private const string ReasonStart = "CUDA device 0 cannot run the model (";

    [TestMethod]
    public void AGpuRequestWithoutCudaScoresOnTheCpuAndLogsWhy()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        var segmenter = TinyTrainedSegmenter.Get();
        var ml = new MLContext(1);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        var gpu = new ScoringOptions { GpuDeviceId = 0 };

        var data = TinyTrainedDetector.ImageView(ml, TinyTrainedDetector.Images(4));
        using var folder = new TempFolder();
        ml.Model.Save(detector, data.Schema, folder["detector.zip"]);
        ml.Model.Save(segmenter, data.Schema, folder["segmenter.zip"]);
        var cases = new (string Name, OnnxScoringTransformer Cpu, OnnxScoringTransformer Gpu)[]
        {
            ("DetectionTransformer.Create", detector, DetectionTransformer.Create(ml, detector.OnnxModel, gpu)),
            ("DetectionTransformer.Load", detector, DetectionTransformer.Load(ml, folder["detector.zip"], gpu)),
            ("SegmentationTransformer.Create", segmenter, SegmentationTransformer.Create(ml, segmenter.OnnxModel, gpu)),
            ("SegmentationTransformer.Load", segmenter, SegmentationTransformer.Load(ml, folder["segmenter.zip"], gpu)),
        };
        Console.WriteLine(cases[0].Gpu.GpuFallbackReason);
        Assert.HasCount(cases.Length, warnings, string.Join("\n", warnings));
        for (int i = 0; i < cases.Length; i++)
        {
            var (name, cpu, fallback) = cases[i];
            Assert.AreEqual("CPU", cpu.ExecutionDevice, name);
            Assert.IsNull(cpu.GpuFallbackReason, name);
            Assert.AreEqual("CPU", fallback.ExecutionDevice, name);
            Assert.StartsWith(ReasonStart, fallback.GpuFallbackReason!, name);
            StringAssert.Contains(fallback.GpuFallbackReason, "Microsoft.ML.OnnxRuntime.Gpu.Linux", name);
            StringAssert.Contains(warnings[i], fallback.GpuFallbackReason!, $"{name}: the log says why");
            Assert.AreEqual(JsonSerializer.Serialize(ScoredColumns.Read(cpu.Transform(data))), JsonSerializer.Serialize(ScoredColumns.Read(fallback.Transform(data))), name);
        }
        var batched = (DetectionTransformer)cases[0].Gpu;
        Assert.AreEqual(JsonSerializer.Serialize(ScoredColumns.Read(detector.ScoreBatched(data))), JsonSerializer.Serialize(ScoredColumns.Read(batched.ScoreBatched(data))),
            "the batched session falls back too");
    }

    [TestMethod]
    public void WithoutFallbackAGpuRequestThrowsWithTheReason()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() =>
            DetectionTransformer.Create(new MLContext(1), detector.OnnxModel, new ScoringOptions { GpuDeviceId = 0, FallbackToCpu = false }));
        Assert.StartsWith(ReasonStart, ex.Message);
        Assert.EndsWith("CUDA 12 and cuDNN 9. Set ScoringOptions.FallbackToCpu to score on the CPU instead.", ex.Message);
    }

    [TestMethod]
    public void OptionsAreCheckedWhereTheyAreSet()
    {
        var device = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ScoringOptions { GpuDeviceId = -1 });
        Assert.StartsWith("GpuDeviceId is a CUDA device index (0 for the first GPU) or null for the CPU.", device.Message);
        var column = Assert.ThrowsExactly<ArgumentException>(() => new ScoringOptions { ImagePathColumn = " " });
        Assert.StartsWith("ImagePathColumn must name a column (or be null for the default).", column.Message);
        Assert.IsNull(new ScoringOptions().GpuDeviceId, "the CPU is the default");
        Assert.IsTrue(new ScoringOptions().FallbackToCpu);
    }
}
