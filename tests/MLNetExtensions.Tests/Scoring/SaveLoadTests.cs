using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// A trained detector saved with <c>mlContext.Model.Save</c> scores the same in a fresh process (the ScoringHost
/// project, which references only the scoring library) as in the process that trained it.
/// </summary>
[TestClass]
public sealed class SaveLoadTests
{
    /// <summary>Path of the host's dll, built with the tests (see the test project's ProjectReference).</summary>
    internal static string HostPath => typeof(SaveLoadTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ScoringHostPath").Value!;

    [TestMethod]
    public void AFreshProcessScoresTheSavedModelIdentically()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Ssd);
        var images = TinyTrainedDetector.Images(4);
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, images);
        using var folder = new TempFolder();
        string zip = Path.Combine(folder.Path, "model.zip"), json = Path.Combine(folder.Path, "host.json"), onnx = Path.Combine(folder.Path, "host.onnx");
        ml.Model.Save(detector, data.Schema, zip);

        var expected = ScoredColumns.Read(detector.Transform(data));
        var host = RunHost([zip, json, onnx, .. images]);

        CollectionAssert.AreEqual(new[] { "ImagePath", "PredictedBoxes", "Scores", "PredictedLabelNames", "PredictedLabels" }, expected.Select(c => c.Name).ToArray());
        Assert.IsGreaterThan(0, expected.Single(c => c.Name == "Scores").Rows.Sum(r => r.Count), "the detector found nothing, so the comparison proves little");
        AssertSameColumns(expected, host.Columns);
        CollectionAssert.AreEqual(detector.ClassNames.ToArray(), expected.Single(c => c.Name == "PredictedLabels").KeyValues, "PredictedLabels' key values are the class names");

        // The typed PredictionEngine<ImageInput, DetectionPrediction> on the loaded model, and Detect on
        // DetectionTransformer.Load's, give the same rows; the class names are those of the keys.
        var keyNames = expected.Single(c => c.Name == "PredictedLabels").KeyValues!;
        foreach (var (what, predictions) in new[] { ("engine", host.Engine), ("Detect", host.Helper) })
        {
            Assert.HasCount(images.Length, predictions, what);
            for (int r = 0; r < images.Length; r++)
            {
                CollectionAssert.AreEqual(Row(expected, "PredictedBoxes", r), predictions[r].Boxes.Select(Format).ToList(), $"{what} boxes, row {r}");
                CollectionAssert.AreEqual(Row(expected, "PredictedLabels", r).Select(k => keyNames[int.Parse(k) - 1]).ToList(), predictions[r].LabelNames, $"{what} labels, row {r}");
                CollectionAssert.AreEqual(Row(expected, "Scores", r), predictions[r].Scores.Select(Format).ToList(), $"{what} scores, row {r}");
            }
        }

        // DetectionTransformer.Load re-wraps the chain there.
        CollectionAssert.AreEqual(detector.ClassNames.ToArray(), host.ClassNames);
        CollectionAssert.AreEqual(detector.OnnxModel, File.ReadAllBytes(onnx), "ExportOnnx after Load writes the trained network's bytes");
        Assert.IsFalse(host.LoadedAssemblies.Any(a => a.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)),
            $"the scoring process loaded TorchSharp: {string.Join(", ", host.LoadedAssemblies)}");
    }

    [TestMethod]
    public void LoadRewrapsTheSavedChainInProcess()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        var images = TinyTrainedDetector.Images(3);
        using var folder = new TempFolder();
        string zip = Path.Combine(folder.Path, "model.zip");
        var ml = new MLContext(1);
        var data = TinyTrainedDetector.ImageView(ml, images);
        ml.Model.Save(detector, data.Schema, zip);

        var loaded = DetectionTransformer.Load(new MLContext(2), zip);
        CollectionAssert.AreEqual(detector.ClassNames.ToArray(), loaded.ClassNames.ToArray());
        CollectionAssert.AreEqual(detector.OnnxModel, loaded.OnnxModel);
        Assert.AreEqual(JsonSerializer.Serialize(ScoredColumns.Read(detector.Transform(data))), JsonSerializer.Serialize(ScoredColumns.Read(loaded.Transform(data))));
    }

    [TestMethod]
    public void ATruncatedModelFileGivesAClearError()
    {
        var detector = TinyTrainedDetector.Get(DetectorArchitecture.Grid);
        using var folder = new TempFolder();
        string zip = Path.Combine(folder.Path, "model.zip"), truncated = Path.Combine(folder.Path, "truncated.zip");
        var ml = new MLContext(1);
        ml.Model.Save(detector, TinyTrainedDetector.ImageView(ml, []).Schema, zip);
        var bytes = File.ReadAllBytes(zip);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);

        var ex = Assert.ThrowsExactly<InvalidDataException>(() => DetectionTransformer.Load(ml, truncated));
        Assert.AreEqual($"The model file '{truncated}' is truncated or damaged: it is not a complete zip archive. Save the model again with mlContext.Model.Save.", ex.Message);

        var missing = Path.Combine(folder.Path, "missing.zip");
        var notFound = Assert.ThrowsExactly<FileNotFoundException>(() => DetectionTransformer.Load(ml, missing));
        Assert.AreEqual($"The model file '{missing}' does not exist.", notFound.Message);
    }

    /// <summary>The host's columns are <paramref name="expected"/>: names, types, key values and every row.</summary>
    internal static void AssertSameColumns(List<ScoredColumn> expected, List<ScoredColumn> actual)
    {
        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.AreEqual(e.Name, a.Name);
            Assert.AreEqual(e.Type, a.Type, $"column {e.Name}");
            CollectionAssert.AreEqual(e.KeyValues, a.KeyValues, $"key values of {e.Name}");
            Assert.HasCount(e.Rows.Count, a.Rows, $"rows of {e.Name}");
            for (int r = 0; r < e.Rows.Count; r++)
                CollectionAssert.AreEqual(e.Rows[r], a.Rows[r], $"column {e.Name}, row {r}");
        }
    }

    private static List<string> Row(List<ScoredColumn> columns, string name, int row) => columns.Single(c => c.Name == name).Rows[row];

    private static string Format(float x) => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    internal static HostResult RunHost(string[] args)
    {
        Assert.IsTrue(File.Exists(HostPath), $"The scoring host was not built at '{HostPath}'; build the solution.");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.ArgumentList.Add(HostPath);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The scoring host did not finish within 60 s.");
        }
        Assert.AreEqual(0, process.ExitCode, $"The scoring host failed:\n{stdout.Result}\n{stderr.Result}");
        string json = args[0] == "--segmentation" ? args[2] : args[1];   // <output.json> follows <model.zip>
        return JsonSerializer.Deserialize<HostResult>(File.ReadAllText(json))!;
    }
}
