using System.Diagnostics;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Data.Synthetic;

namespace MLNetExtensions.Bench;

/// <summary>Generating the synthetic dataset: images per second, against saving the same pixels with MLImage.Save.</summary>
public sealed class SyntheticShapesBenchmark : IBenchmark
{
    public string Name => "synthetic-shapes";
    public string Description => "SyntheticShapesDataset.Write of 128x128 images vs the same scenes saved through MLImage.Save (RGBA, SkiaSharp)";

    public void Run(TextWriter output)
    {
        var options = new SyntheticShapesOptions { TrainImages = 192, ValidationImages = 0, TestImages = 0 };
        var dir = Directory.CreateTempSubdirectory("mlnetext-bench-").FullName;
        try
        {
            SyntheticShapesDataset.Write(Path.Combine(dir, "warmup"), new SyntheticShapesOptions { TrainImages = 4, ValidationImages = 0, TestImages = 0 });
            var sw = Stopwatch.StartNew();
            SyntheticShapesDataset.Write(Path.Combine(dir, "ours"), options);
            double ours = options.TrainImages / sw.Elapsed.TotalSeconds;

            // Baseline: the same image files written with MLImage (what ML.NET offers), one thread like the encoder part above runs per image.
            var images = Directory.GetFiles(Path.Combine(dir, "ours", "JPEGImages"));
            var pixels = images.Select(f => { using var i = MLImage.CreateFromFile(f); return i.Pixels.ToArray(); }).ToList();
            sw.Restart();
            Parallel.For(0, images.Length, i =>
            {
                using var image = MLImage.CreateFromPixels(128, 128, MLPixelFormat.Bgra32, pixels[i]);
                image.Save(Path.Combine(dir, $"skia{i}.png"));
            });
            double skiaSaveOnly = images.Length / sw.Elapsed.TotalSeconds;
            output.WriteLine($"  Write (render + RGB PNG + mask + XML): {ours,8:F0} images/s");
            output.WriteLine($"  MLImage.Save alone (baseline):          {skiaSaveOnly,8:F0} images/s");
            output.WriteLine($"  ratio (whole Write / MLImage save only): {ours / skiaSaveOnly:F2}x");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Reading VOC masks: direct palette decoding against decoding with MLImage and mapping colours back.</summary>
public sealed class MaskDecodeBenchmark : IBenchmark
{
    public string Name => "mask-decode";
    public string Description => "SegmentationMask.CreateFromFile on 500x375 palette PNGs vs MLImage.CreateFromFile + VOC colormap lookup";

    public void Run(TextWriter output)
    {
        var dir = Directory.CreateTempSubdirectory("mlnetext-bench-").FullName;
        try
        {
            // A VOC-sized mask: a few large regions, void borders.
            var mask = new SegmentationMask(500, 375);
            for (int y = 0; y < 375; y++)
                for (int x = 0; x < 500; x++)
                    mask[x, y] = (byte)(Math.Abs(x - 250) + Math.Abs(y - 180) is var d && d < 120 ? 15 : d < 123 ? 255 : x < 100 ? 9 : 0);
            var path = Path.Combine(dir, "m.png");
            mask.Save(path);
            const int n = 200;
            SegmentationMask.CreateFromFile(path);
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) SegmentationMask.CreateFromFile(path);
            double ours = n / sw.Elapsed.TotalSeconds;

            sw.Restart();
            for (int i = 0; i < n; i++)
            {
                using var image = MLImage.CreateFromFile(path);
                var px = image.Pixels;
                var indices = new byte[500 * 375];
                for (int p = 0; p < indices.Length; p++)
                    VocColormap.TryGetIndex(px[4 * p + 2], px[4 * p + 1], px[4 * p], out indices[p]);
            }
            double baseline = n / sw.Elapsed.TotalSeconds;
            output.WriteLine($"  SegmentationMask.CreateFromFile: {ours,8:F0} masks/s");
            output.WriteLine($"  MLImage + colormap (baseline):   {baseline,8:F0} masks/s");
            output.WriteLine($"  ratio: {ours / baseline:F2}x");

            var jpeg = Path.Combine(dir, "i.jpg");
            using (var img = MLImage.CreateFromPixels(500, 375, MLPixelFormat.Bgra32, new byte[500 * 375 * 4])) img.Save(jpeg);
            sw.Restart();
            for (int i = 0; i < n; i++) ImageHeader.ReadSize(jpeg);
            double header = n / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int i = 0; i < n; i++) { using var img = MLImage.CreateFromFile(jpeg); _ = img.Width; }
            double decode = n / sw.Elapsed.TotalSeconds;
            output.WriteLine($"  image size from JPEG header: {header,8:F0} files/s; by decoding (baseline): {decode,8:F0} files/s; ratio {header / decode:F1}x");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
