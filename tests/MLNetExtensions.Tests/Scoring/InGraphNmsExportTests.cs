using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Tests.Detection.FasterRcnn;
using MLNetExtensions.Tests.Evaluation;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using SkiaSharp;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// <c>ExportOnnx(path, options)</c>: the detector with the scoring chain's post-processing in its graph (score
/// threshold, class-aware NonMaxSuppression, top-k, boxes in pixels) gives in ONNX Runtime the detections the ML.NET
/// pipeline gives (same labels and order, scores to 1e-6, boxes to 1e-3 px) for SSD, grid and Faster R-CNN, on the
/// tiny set's images stretched to other sizes; and onnx.checker accepts it.
/// </summary>
[TestClass]
public sealed class InGraphNmsExportTests
{
    private const float BoxTolerance = 1e-3f;
    private static readonly Lazy<DetectionTransformer> FasterRcnn = new(() =>
    {
        var ml = new MLContext(1);
        // As FasterRcnnOnnxParityTests' trained model: 60 steps take the RPN and box head past their random start.
        var options = FasterRcnnOnnxParityTests.TinyOptions() with { MaxSteps = 60, BoxScoreThreshold = 0.01f };
        return ml.Transforms.TrainFasterRcnnDetector(options).Fit(DetectorTrainingTests.Load(ml, "train"));
    });

    /// <summary>The SSD and grid detectors of the scoring tests ("Ssd", "Grid"); a Faster R-CNN ("FasterRcnn") trained briefly.</summary>
    private static DetectionTransformer Detector(string kind)
        => kind == "FasterRcnn" ? FasterRcnn.Value : TinyTrainedDetector.Get(Enum.Parse<DetectorArchitecture>(kind));

    /// <summary>The tiny set's first validation images stretched to sizes other than the network's 64×64, none square.</summary>
    private static string[] StretchedImages(ScratchFolder folder)
    {
        (int W, int H)[] sizes = [(96, 72), (50, 80), (130, 64), (64, 100), (77, 41), (120, 90)];
        var sources = TinyTrainedDetector.Images(sizes.Length);
        var paths = new string[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            using var source = SKBitmap.Decode(sources[i]);
            using var resized = source.Resize(new SKImageInfo(sizes[i].W, sizes[i].H), SKFilterQuality.Medium);
            using var png = resized.Encode(SKEncodedImageFormat.Png, 100);
            paths[i] = folder.Combine($"stretched_{i}.png");
            File.WriteAllBytes(paths[i], png.ToArray());
        }
        return paths;
    }

    /// <summary>One image's detections: boxes (D·4), 0-based labels, scores.</summary>
    private sealed record Detections(float[] Boxes, long[] Labels, float[] Scores);

    private static Detections Pipeline(DetectionTransformer detector, string path)
    {
        var p = detector.Detect(path);
        var index = detector.ClassNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => (long)x.i);
        return new Detections(p.PredictedBoxes, p.PredictedLabels.Select(n => index[n]).ToArray(), p.Scores);
    }

    /// <summary>The pixels the chain feeds its network, (1, C, H, W) floats.</summary>
    private static float[] Pixels(OnnxModelMetadata metadata, string path)
        => new NetworkInput(metadata.InputWidth, metadata.InputHeight, metadata.InputChannels == 1).ReadPixels(path)
            .Select(b => (float)b).ToArray();

    private static long[] PixelShape(OnnxModelMetadata metadata, int batch) => [batch, metadata.InputChannels, metadata.InputHeight, metadata.InputWidth];

    private static Detections RunPerImage(InferenceSession session, OnnxModelMetadata metadata, string path, bool originalSize)
    {
        var pixels = Pixels(metadata, path);
        var (w, h) = ImageHeader.ReadSize(path);
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, PixelShape(metadata, 1));
        using var size = OrtValue.CreateTensorValueFromMemory(new float[] { w, h }, [1, 2]);
        string[] inputNames = originalSize ? [ScoringColumns.OnnxPixels, ScoringColumns.ExportedOriginalSize] : [ScoringColumns.OnnxPixels];
        OrtValue[] inputs = originalSize ? [input, size] : [input];
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputNames, inputs, [ScoringColumns.ExportedBoxes, ScoringColumns.ExportedLabels, ScoringColumns.ExportedScores]);
        var boxShape = outputs[0].GetTensorTypeAndShape().Shape;
        Assert.HasCount(2, boxShape, "boxes are (D, 4)");
        Assert.AreEqual(4L, boxShape[1]);
        return new Detections(outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<long>().ToArray(), outputs[2].GetTensorDataAsSpan<float>().ToArray());
    }

    private static void AssertSame(Detections expected, Detections actual, string what)
    {
        Assert.HasCount(expected.Labels.Length, actual.Labels, $"{what}: number of detections");
        Assert.HasCount(4 * expected.Labels.Length, actual.Boxes, $"{what}: box values");
        CollectionAssert.AreEqual(expected.Labels, actual.Labels, $"{what}: labels, in order");
        for (int i = 0; i < expected.Scores.Length; i++)
            Assert.AreEqual(expected.Scores[i], actual.Scores[i], 1e-6f, $"{what}: score {i}");
        for (int i = 0; i < expected.Boxes.Length; i++)
            Assert.AreEqual(expected.Boxes[i], actual.Boxes[i], BoxTolerance, $"{what}: box value {i}");
    }

    [TestMethod]
    [DataRow("Ssd")]
    [DataRow("Grid")]
    [DataRow("FasterRcnn")]
    public void TheExportedGraphGivesThePipelinesDetections(string architecture)
    {
        var detector = Detector(architecture);
        using var folder = new ScratchFolder();
        string onnx = folder.Combine("detector.onnx");
        detector.ExportOnnx(onnx, new DetectionOnnxExportOptions());
        using var session = new InferenceSession(onnx);
        int compared = 0;
        double maxBoxDiff = 0;
        foreach (var path in StretchedImages(folder))
        {
            var expected = Pipeline(detector, path);
            var actual = RunPerImage(session, detector.Metadata, path, originalSize: true);
            AssertSame(expected, actual, $"{architecture}, {Path.GetFileName(path)}");
            for (int i = 0; i < expected.Boxes.Length; i++) maxBoxDiff = Math.Max(maxBoxDiff, Math.Abs(expected.Boxes[i] - actual.Boxes[i]));
            compared += expected.Labels.Length;
        }
        Console.WriteLine($"{architecture}: {compared} detections compared, max |box difference| {maxBoxDiff:G3} px");
        Assert.IsGreaterThan(20, compared, "enough detections were compared for the test to mean something");
        Assert.IsNull(OnnxTestKit.RunOnnxChecker(onnx), "onnx.checker accepts the graph with its post-processing");
    }

    [TestMethod]
    [DataRow("Ssd")]
    [DataRow("FasterRcnn")]
    public void APaddedBatchInInputPixelsGivesEachImagesDetections(string architecture)
    {
        // The tiny set's own 64×64 images: input pixels are original pixels, so the pipeline's boxes are the expected ones.
        var detector = Detector(architecture);
        var metadata = detector.Metadata;
        var paths = TinyTrainedDetector.Images(3);
        using var folder = new ScratchFolder();
        string onnx = folder.Combine("padded.onnx");
        const int k = 7;
        detector.ExportOnnx(onnx, new DetectionOnnxExportOptions { Layout = ExportedDetectionLayout.PaddedBatch, BoxCoordinates = ExportedBoxCoordinates.InputPixels, MaxDetections = k });
        using var session = new InferenceSession(onnx);
        CollectionAssert.AreEquivalent(new[] { ScoringColumns.OnnxPixels }, session.InputNames.ToArray(), "no size input with input pixels");

        var pixels = paths.SelectMany(p => Pixels(metadata, p)).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, PixelShape(metadata, paths.Length));
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ScoringColumns.OnnxPixels], [input],
            [ScoringColumns.ExportedBoxes, ScoringColumns.ExportedLabels, ScoringColumns.ExportedScores, ScoringColumns.ExportedDetectionCount]);
        CollectionAssert.AreEqual(new long[] { 3, k, 4 }, outputs[0].GetTensorTypeAndShape().Shape);
        CollectionAssert.AreEqual(new long[] { 3, k }, outputs[1].GetTensorTypeAndShape().Shape);
        CollectionAssert.AreEqual(new long[] { 3 }, outputs[3].GetTensorTypeAndShape().Shape);
        var boxes = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var labels = outputs[1].GetTensorDataAsSpan<long>().ToArray();
        var scores = outputs[2].GetTensorDataAsSpan<float>().ToArray();
        var counts = outputs[3].GetTensorDataAsSpan<long>().ToArray();
        int full = 0;
        for (int b = 0; b < paths.Length; b++)
        {
            var all = Pipeline(detector, paths[b]);
            int n = Math.Min(k, all.Labels.Length);
            if (n == k) full++;
            var expected = new Detections(all.Boxes[..(4 * n)], all.Labels[..n], all.Scores[..n]);
            Assert.AreEqual((long)n, counts[b], $"image {b}: num_detections");
            AssertSame(expected, new Detections(boxes[(4 * k * b)..(4 * (k * b + n))], labels[(k * b)..(k * b + n)], scores[(k * b)..(k * b + n)]), $"{architecture}, batch image {b}");
            for (int j = n; j < k; j++)
            {
                Assert.AreEqual(-1L, labels[k * b + j], $"image {b}, padding row {j}: label");
                Assert.AreEqual(0f, scores[k * b + j], $"image {b}, padding row {j}: score");
                for (int q = 0; q < 4; q++) Assert.AreEqual(0f, boxes[4 * (k * b + j) + q], $"image {b}, padding row {j}: box");
            }
        }
        Assert.IsGreaterThan(0, full, "at least one image has more detections than the limit, so the top-k cut is tested");
        Assert.IsNull(OnnxTestKit.RunOnnxChecker(onnx), "onnx.checker accepts the padded graph");
    }

    [TestMethod]
    public void OtherThresholdsGiveWhatTheMappingGivesWithThem()
    {
        // The chain's own mapping, handed the network's raw outputs and the new settings, is the reference.
        var detector = Detector("Ssd");
        var metadata = detector.Metadata;
        using var folder = new ScratchFolder();
        string onnx = folder.Combine("strict.onnx");
        var images = StretchedImages(folder);
        // A threshold between the pipeline's scores (a third of them pass), so that it changes what is kept.
        var all = images.SelectMany(p => Pipeline(detector, p).Scores).Order().ToArray();
        float threshold = all[2 * all.Length / 3];
        Assert.IsGreaterThan(detector.Metadata.ScoreThreshold!.Value, threshold, "stricter than the model's own");
        var options = new DetectionOnnxExportOptions { ScoreThreshold = threshold, IouThreshold = 0.3f, MaxDetections = 4 };
        detector.ExportOnnx(onnx, options);
        using var exported = new InferenceSession(onnx);
        using var network = new InferenceSession(detector.OnnxModel);
        int compared = 0;
        foreach (var path in images)
        {
            var pixels = Pixels(metadata, path);
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, PixelShape(metadata, 1));
            using var runOptions = new RunOptions();
            using var raw = network.Run(runOptions, [ScoringColumns.OnnxPixels], [input], [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores]);
            var (w, h) = ImageHeader.ReadSize(path);
            var row = new DetectionOutputRow();
            DetectionOutputMapping.Map(raw[0].GetTensorDataAsSpan<float>(), raw[1].GetTensorDataAsSpan<float>(), [threshold, 0.3f, 4f], w, h, row);
            var expected = new Detections(row.Boxes, row.LabelIndices.Select(l => (long)l - 1).ToArray(), row.Scores);
            Assert.IsLessThanOrEqualTo(4, expected.Labels.Length);
            AssertSame(expected, RunPerImage(exported, metadata, path, originalSize: true), $"strict settings, {Path.GetFileName(path)}");
            compared += expected.Labels.Length;
        }
        Assert.IsGreaterThan(5, compared, "enough detections were compared");
        var written = OnnxModelMetadata.Read(onnx).Extra;
        Assert.AreEqual(threshold.ToString("R", CultureInfo.InvariantCulture), written["postprocess.score_threshold"]);
        Assert.AreEqual("0.3", written["postprocess.iou_threshold"]);
        Assert.AreEqual("4", written["postprocess.max_detections"]);
        Assert.AreEqual("per_image", written["postprocess.layout"]);
        Assert.AreEqual("original_image", written["postprocess.box_coordinates"]);
    }

    [TestMethod]
    public void TheDefaultSettingsAreTheModelsOwnAndTheNetworkExportIsUnchanged()
    {
        var detector = Detector("Grid");
        using var folder = new ScratchFolder();
        string plain = folder.Combine("plain.onnx"), full = folder.Combine("full.onnx");
        detector.ExportOnnx(plain);
        CollectionAssert.AreEqual(detector.OnnxModel, File.ReadAllBytes(plain), "ExportOnnx(path) writes the network as before");
        detector.ExportOnnx(full, new DetectionOnnxExportOptions());
        var extra = OnnxModelMetadata.Read(full).Extra;
        Assert.AreEqual(detector.Metadata.ScoreThreshold!.Value.ToString("R", CultureInfo.InvariantCulture), extra["postprocess.score_threshold"]);
        Assert.AreEqual(detector.Metadata.IouThreshold!.Value.ToString("R", CultureInfo.InvariantCulture), extra["postprocess.iou_threshold"]);
        Assert.AreEqual(new SsdDetectorOptions().MaxDetections.ToString(CultureInfo.InvariantCulture), extra["postprocess.max_detections"]);
        Assert.IsFalse(File.Exists(full + ".tmp"), "written atomically, nothing left behind");

        var ex = Assert.ThrowsExactly<InvalidDataException>(() => DetectionTransformer.Create(new MLContext(1), File.ReadAllBytes(full)));
        Assert.AreEqual("The ONNX model is a detector exported with its post-processing in the graph (ExportOnnx(path, options)), for other runtimes; ML.NET scoring needs the network as ExportOnnx(path) writes it.", ex.Message);
    }

    [TestMethod]
    public void BadOptionsAreRejectedWhereSet()
    {
        var e1 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionOnnxExportOptions { ScoreThreshold = 1.5f });
        StringAssert.StartsWith(e1.Message, "ScoreThreshold must be in [0, 1] (or null for the model's own).");
        var e2 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionOnnxExportOptions { IouThreshold = float.NaN });
        StringAssert.StartsWith(e2.Message, "IouThreshold must be in [0, 1] (or null for the model's own).");
        var e3 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionOnnxExportOptions { MaxDetections = 0 });
        StringAssert.StartsWith(e3.Message, "MaxDetections must be at least 1 (or null for the model's own).");
        var e4 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionOnnxExportOptions { Layout = (ExportedDetectionLayout)7 });
        StringAssert.StartsWith(e4.Message, "Layout must be one of PerImage, PaddedBatch.");
        var e5 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new DetectionOnnxExportOptions { BoxCoordinates = (ExportedBoxCoordinates)7 });
        StringAssert.StartsWith(e5.Message, "BoxCoordinates must be one of OriginalImage, InputPixels.");
        Assert.ThrowsExactly<ArgumentNullException>(() => Detector("Grid").ExportOnnx("x.onnx", null!));
    }

    /// <summary>
    /// The Python snippet of docs/deploy.md with Python's onnxruntime, on the chain's pixels: the same detections.
    /// Debian has no python3-onnxruntime, so here it is inconclusive unless someone installed it.
    /// </summary>
    [TestMethod]
    public void PythonOnnxRuntimeGivesThePipelinesDetections()
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
            Assert.Inconclusive($"{python} does not exist; install python3, then pip install onnxruntime numpy to run this check.");
        var probe = OnnxTestKit.RunProcess(python, ["-c", "import onnxruntime, numpy"]);
        if (probe.ExitCode != 0)
            Assert.Inconclusive($"Python onnxruntime is not installed ({python} -c 'import onnxruntime, numpy' failed: {probe.Error.Trim().Split('\n').Last()}); pip install onnxruntime numpy to run this check.");

        var detector = Detector("Ssd");
        using var folder = new ScratchFolder();
        string onnx = folder.Combine("detector.onnx");
        detector.ExportOnnx(onnx, new DetectionOnnxExportOptions());
        var paths = StretchedImages(folder);
        var cases = new List<object>();
        for (int i = 0; i < paths.Length; i++)
        {
            string raw = folder.Combine($"pixels_{i}.f32");
            File.WriteAllBytes(raw, System.Runtime.InteropServices.MemoryMarshal.AsBytes(Pixels(detector.Metadata, paths[i]).AsSpan()).ToArray());
            var (w, h) = ImageHeader.ReadSize(paths[i]);
            cases.Add(new { pixels = raw, width = w, height = h });
        }
        string script = folder.File("score.py", """
            import json, sys
            import numpy as np
            import onnxruntime as ort
            sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            meta = sess.get_modelmeta().custom_metadata_map
            c, h, w = (int(meta["mlnetext.input_" + k]) for k in ("channels", "height", "width"))
            out = []
            for case in json.load(open(sys.argv[2])):
                x = np.fromfile(case["pixels"], dtype=np.float32).reshape(1, c, h, w)
                size = np.array([[case["width"], case["height"]]], dtype=np.float32)
                boxes, labels, scores = sess.run(["boxes", "labels", "scores"], {"MLNetExt_Pixels": x, "original_size": size})
                out.append({"boxes": boxes.ravel().tolist(), "labels": labels.tolist(), "scores": scores.tolist()})
            print(json.dumps(out))
            """);
        string casesPath = folder.File("cases.json", JsonSerializer.Serialize(cases));
        var run = OnnxTestKit.RunProcess(python, [script, onnx, casesPath]);
        Assert.AreEqual(0, run.ExitCode, run.Error);
        using var results = JsonDocument.Parse(run.Output);
        int compared = 0;
        for (int i = 0; i < paths.Length; i++)
        {
            var r = results.RootElement[i];
            var actual = new Detections(r.GetProperty("boxes").EnumerateArray().Select(v => v.GetSingle()).ToArray(),
                r.GetProperty("labels").EnumerateArray().Select(v => v.GetInt64()).ToArray(),
                r.GetProperty("scores").EnumerateArray().Select(v => v.GetSingle()).ToArray());
            var expected = Pipeline(detector, paths[i]);
            AssertSame(expected, actual, $"Python onnxruntime, {Path.GetFileName(paths[i])}");
            compared += expected.Labels.Length;
        }
        Assert.IsGreaterThan(20, compared);
    }
}
