using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// Detector scoring throughput on one exported SSD (randomly initialised, 300×300, VggLite): (a) the ML.NET chain,
/// which runs ApplyOnnxModel one row at a time, (b) <see cref="DetectionTransformer.ScoreBatched"/> with batch 16, and
/// the baseline (c) raw ONNX Runtime on batches of 16 with the pixels prepared beforehand (network only: no image
/// decoding, resizing or post-processing). Images of the built-in synthetic shapes set.
/// </summary>
public sealed class ScoringBenchmark : IBenchmark
{
    private const int ImageCount = 64, BatchSize = 16, InputSize = 300;

    public string Name => "scoring";
    public string Description => $"SSD {InputSize}×{InputSize} scoring: ML.NET chain vs ScoreBatched({BatchSize}) vs raw ONNX Runtime batch {BatchSize} ({ImageCount} images)";

    public void Run(TextWriter output)
    {
        var onnx = RandomSsd(out int priors);
        var ml = new MLContext(1);
        var detector = DetectionTransformer.Create(ml, onnx);
        var root = SyntheticShapesDataset.EnsureBuiltIn();
        var images = Directory.GetFiles(Path.Combine(root, "JPEGImages"), "test_*.png").Order().Take(ImageCount).ToArray();
        if (images.Length < ImageCount) images = Directory.GetFiles(Path.Combine(root, "JPEGImages"), "*.png").Order().Take(ImageCount).ToArray();
        var data = ml.Data.LoadFromEnumerable(images.Select(p => new ImageRow { ImagePath = p }));
        output.WriteLine($"network: {onnx.Length / 1e6:F1} MB, {priors} default boxes, {detector.ClassNames.Count} classes; {images.Length} images of '{root}'");

        int detections = 0;
        double pipeline = ImagesPerSecond(images.Length, () => detections = CountDetections(detector.Transform(data)));
        double batched = ImagesPerSecond(images.Length, () => detections = CountDetections(detector.ScoreBatched(data, BatchSize)));
        float[] pixels = [];
        double preparation = ImagesPerSecond(images.Length, () => pixels = Pixels(ml, data, detector.Metadata));
        using var session = new InferenceSession(onnx);
        double raw = ImagesPerSecond(images.Length, () => RunRaw(session, pixels, detector.Metadata, BatchSize));
        double rawOne = ImagesPerSecond(images.Length, () => RunRaw(session, pixels, detector.Metadata, 1));

        output.WriteLine($"(a) ML.NET chain (ApplyOnnxModel, row by row): {pipeline:F1} img/s");
        output.WriteLine($"(b) ScoreBatched(batch {BatchSize}):              {batched:F1} img/s");
        output.WriteLine($"(c) raw ONNX Runtime, batch {BatchSize}, pixels ready: {raw:F1} img/s   (baseline)");
        output.WriteLine($"    raw ONNX Runtime, batch 1, pixels ready:       {rawOne:F1} img/s");
        output.WriteLine($"    pixel pipeline alone (load, resize, extract):  {preparation:F1} img/s");
        output.WriteLine($"ratios: (a)/(c) {pipeline / raw:F2}, (b)/(c) {batched / raw:F2} (goal >= 0.90), (b)/(a) {batched / pipeline:F2}; {detections / (double)images.Length:F1} detections per image");
    }

    /// <summary>An SSD with torch's default initialisation, exported with a score threshold that an untrained network's
    /// near-uniform class probabilities rarely pass, so post-processing costs about what it costs for a trained one.</summary>
    private static byte[] RandomSsd(out int priors)
    {
        TorchRuntime.EnsureLoaded();
        TorchSharp.torch.manual_seed(0);
        var options = new SsdDetectorOptions { InputWidth = InputSize, InputHeight = InputSize, Device = DeviceSelection.Cpu, ScoreThreshold = 0.3f };
        var classes = SyntheticShapesDataset.ClassNames.ToArray();
        var model = new SsdDetectorModel(options, classes.Length, CPU);
        model.Network.eval();
        priors = model.Priors.Count;
        var input = new NetworkInput(InputSize, InputSize, false);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Detection, classes, 3, InputSize, InputSize, scoreThreshold: options.ScoreThreshold, iouThreshold: options.NmsIouThreshold);
        return model.Export(input, metadata, options.ScoreThreshold, options.NmsIouThreshold, options.MaxDetections).ToBytes();
    }

    /// <summary>Median images per second of three timed passes after a warm-up pass.</summary>
    private static double ImagesPerSecond(int images, Action pass)
    {
        pass();
        var seconds = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            pass();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return images / seconds.Order().ElementAt(1);
    }

    private static int CountDetections(IDataView scored)
    {
        var column = scored.Schema[DetectionColumns.Scores];
        using var cursor = scored.GetRowCursor(scored.Schema);
        var scores = cursor.GetGetter<VBuffer<float>>(column);
        var boxes = cursor.GetGetter<VBuffer<float>>(scored.Schema[DetectionColumns.PredictedBoxes]);
        var labels = cursor.GetGetter<VBuffer<uint>>(scored.Schema[DetectionColumns.PredictedLabels]);
        VBuffer<float> s = default, b = default;
        VBuffer<uint> l = default;
        int count = 0;
        while (cursor.MoveNext())
        {
            scores(ref s); boxes(ref b); labels(ref l);
            count += s.Length;
        }
        return count;
    }

    /// <summary>The network's input pixels of every image, through the scoring chain's own pixel pipeline.</summary>
    private static float[] Pixels(MLContext ml, IDataView data, OnnxModelMetadata m)
    {
        var input = new NetworkInput(m.InputWidth, m.InputHeight, m.InputChannels == 1);
        var view = input.PixelPipeline(ml, nameof(ImageRow.ImagePath), "Pixels").Fit(data).Transform(data);
        var column = view.Schema["Pixels"];
        var all = new List<float>();
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> row = default;
        while (cursor.MoveNext())
        {
            getter(ref row);
            all.AddRange(row.DenseValues());
        }
        return all.ToArray();
    }

    private static void RunRaw(InferenceSession session, float[] pixels, OnnxModelMetadata m, int batchSize)
    {
        int imageSize = m.InputChannels * m.InputHeight * m.InputWidth, count = pixels.Length / imageSize;
        using var runOptions = new RunOptions();
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels.AsMemory(start * imageSize, n * imageSize),
                [n, m.InputChannels, m.InputHeight, m.InputWidth]);
            using var outputs = session.Run(runOptions, [ScoringColumns.OnnxPixels], [value], [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess]);
        }
    }

    private sealed class ImageRow
    {
        public string ImagePath = "";
    }
}
