using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Bench;

/// <summary>
/// Throughput of the detection image transforms on generated 640×480 JPEGs, against stock ML.NET pipelines run in the
/// same process: decoding alone (LoadImages), ResizeImages(IsoPad) vs ResizeWithPadding (both then ExtractPixels), and
/// AugmentDetection + ResizeWithPadding. Per-image milliseconds beyond decoding isolate the transforms' own cost.
/// </summary>
public sealed class ImageTransformsBenchmark : IBenchmark
{
    public string Name => "image-transforms";
    public string Description => "letterbox and augmentation throughput (images/s) vs stock ML.NET ResizeImages in the same process";

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
        [VectorType] public float[] Boxes { get; set; } = [];
        [VectorType] public uint[] Labels { get; set; } = [];
        [VectorType] public bool[] Difficult { get; set; } = [];
    }

    public void Run(TextWriter output)
    {
        const int imageCount = 32, width = 640, height = 480, target = 416, rounds = 8;
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var rows = new List<Row>();
            var rng = new Random(1);
            for (int i = 0; i < imageCount; i++)
            {
                // Smooth gradients with a little noise: photo-like content, so decoding does not swamp the transforms.
                var px = new byte[width * height * 4];
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        int o = (y * width + x) * 4;
                        px[o] = (byte)(x * 255 / width); px[o + 1] = (byte)(y * 255 / height);
                        px[o + 2] = (byte)((x + y + i * 7 + rng.Next(8)) & 255); px[o + 3] = 255;
                    }
                using (var img = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, px))
                    img.Save(Path.Combine(folder, $"{i}.jpg"));
                rows.Add(new Row { ImagePath = $"{i}.jpg", Boxes = [50, 60, 300, 400, 320, 100, 600, 450], Labels = [1, 2], Difficult = [false, false] });
            }
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var load = ml.Transforms.LoadImages("Image", folder, "ImagePath");

            // Rounds interleave the pipelines, so a burst of load from elsewhere hits all of them alike; best round counts.
            var decodeView = load.Fit(data).Transform(data);
            var stockView = WithPixels(load.Append(ml.Transforms.ResizeImages("Image", target, target, "Image", ImageResizingEstimator.ResizingKind.IsoPad)), ml, data);
            var letterboxView = WithPixels(load.Append(ml.Transforms.ResizeWithPadding("Image", target, target)), ml, data);
            var augmentedView = WithPixels(load.Append(ml.Transforms.AugmentDetection("Image", seed: 1))
                .Append(ml.Transforms.ResizeWithPadding("Image", target, target)), ml, data);
            double decode = double.MaxValue, stock = double.MaxValue, letterbox = double.MaxValue, augmented = double.MaxValue;
            for (int round = 0; round < rounds; round++)
            {
                decode = Math.Min(decode, Pass<MLImage>(decodeView, "Image"));
                stock = Math.Min(stock, Pass<VBuffer<float>>(stockView, "Pixels"));
                letterbox = Math.Min(letterbox, Pass<VBuffer<float>>(letterboxView, "Pixels"));
                augmented = Math.Min(augmented, Pass<VBuffer<float>>(augmentedView, "Pixels"));
            }
            double Beyond(double ms) => Math.Max(ms - decode, 1e-3);
            output.WriteLine($"  {imageCount} JPEGs {width}×{height} → {target}×{target}; best of {rounds} interleaved rounds; ms per image (images/s)");
            output.WriteLine($"  decode only (LoadImages):                         {decode,6:F2} ms ({1000 / decode:F0}/s)");
            output.WriteLine($"  stock ResizeImages(IsoPad) + ExtractPixels:       {stock,6:F2} ms ({1000 / stock:F0}/s)  +{Beyond(stock):F2} ms beyond decode  (baseline)");
            output.WriteLine($"  ResizeWithPadding (boxes moved) + ExtractPixels:  {letterbox,6:F2} ms ({1000 / letterbox:F0}/s)  +{Beyond(letterbox):F2} ms; throughput ratio {stock / letterbox:F2}× baseline");
            output.WriteLine($"  AugmentDetection + ResizeWithPadding + Extract:   {augmented,6:F2} ms ({1000 / augmented:F0}/s)  +{Beyond(augmented):F2} ms; throughput ratio {stock / augmented:F2}× baseline");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static IDataView WithPixels(IEstimator<ITransformer> pipeline, MLContext ml, IDataView data)
        => pipeline.Append(ml.Transforms.ExtractPixels("Pixels", "Image")).Fit(data).Transform(data);

    /// <summary>Milliseconds per image of one full pass reading <paramref name="column"/> (decoding happens in the getters).</summary>
    private static double Pass<T>(IDataView view, string column)
    {
        var sw = Stopwatch.StartNew();
        int n = 0;
        using (var cursor = view.GetRowCursor([view.Schema[column]]))
        {
            var getter = cursor.GetGetter<T>(view.Schema[column]);
            T value = default!;
            while (cursor.MoveNext()) { getter(ref value); n++; }
        }
        return sw.Elapsed.TotalMilliseconds / n;
    }
}
