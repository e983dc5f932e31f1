using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Detection.Rcnn;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary>
/// R-CNN's feature cache on disk: every region's row is the exported CNN's features of that region, standardised (mean
/// squared norm 1); the file is the size of all regions' features and no longer listed in its folder once mapped; the
/// training images are streamed, not held, and the feature pass decodes them as scoring does.
/// </summary>
[TestClass]
public sealed class RcnnFeatureCacheTests
{
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void EachRowIsTheCnnsFeaturesOfItsRegionStandardisedAndTheFileIsGoneFromItsFolder()
    {
        var ml = new MLContext(1);
        var options = TinyRcnn.Options with { ValidationData = null, PixelCacheBytes = 0 };
        using var task = new RcnnTrainingTask(ml, options, DetectorTrainingTests.Load(ml, "train"));
        Assert.IsFalse(task.TrainingSet.HoldsPixels, "R-CNN streams its training images");
        byte[] onnx;
        using (var network = task.CreateModel(CPU)) onnx = task.Export(network);

        using var cache = RcnnFeatureCache.Compute(onnx, task.TrainingSet, task.Regions, threads: 1);
        long regions = task.Regions.Sum(r => (long)r.Count);
        Assert.AreEqual(regions * cache.Size * sizeof(float), cache.Bytes);
        Assert.AreEqual(Path.GetFullPath(Path.GetTempPath()), Path.GetFullPath(Path.GetDirectoryName(cache.FilePath)! + Path.DirectorySeparatorChar));
        if (!OperatingSystem.IsWindows()) Assert.IsFalse(File.Exists(cache.FilePath), "removed from the folder once mapped");

        // The rows of three images against the graph run here on pixels decoded here.
        using var session = new InferenceSession(onnx);
        var input = task.TrainingSet.Input;
        foreach (int i in new[] { 0, 7, task.TrainingSet.Count - 1 })
        {
            var pixels = input.Resize(input.Decode(task.TrainingSet.Paths[i])).Select(b => (float)b).ToArray();
            var r = task.Regions[i];
            using var results = session.Run([
                NamedOnnxValue.CreateFromTensor(ScoringColumns.OnnxPixels, new DenseTensor<float>(pixels, [1, input.Channels, input.Height, input.Width])),
                NamedOnnxValue.CreateFromTensor(RcnnNetwork.RegionsInput, new DenseTensor<float>(r.Boxes, [r.Count, 4]))]);
            var features = results.Single(v => v.Name == RcnnNetwork.FeaturesOutput).AsTensor<float>().ToArray();
            foreach (int q in new[] { 0, r.Count / 2, r.Count - 1 })
            {
                var row = cache.Row(i, q);
                for (int j = 0; j < cache.Size; j++)
                    Assert.AreEqual((features[q * cache.Size + j] - cache.Mean[j]) * cache.Scale[j], row[j], 1e-5f, $"image {i}, region {q}, feature {j}");
            }
        }
        double squares = 0;
        for (int i = 0; i < task.Regions.Length; i++)
            for (int q = 0; q < task.Regions[i].Count; q++) squares += cache.Row(i, q).Sum(v => (double)v * v);
        // Standardised and divided by √D: mean squared norm 1, less the share the 1e-6 added to each variance takes
        // (all of a dimension without variance: an untrained CNN's features vary by about 1e-8), (1/D) Σ var / (var + ε) with var = 1 / (s² D) − ε.
        double d = cache.Size, expected = cache.Scale.Sum(s => 1 - 1e-6 * s * s * d) / d;
        Console.WriteLine($"mean squared norm {squares / regions:F5}, expected {expected:F5}, D = {cache.Size}, {regions} regions, {cache.Bytes / 1e6:F1} MB");
        Assert.AreEqual(expected, squares / regions, 1e-3);
    }
}
