using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using MLNetExtensions.Detection.Rcnn;
using SkiaSharp;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary>
/// <see cref="FelzenszwalbSegmentation"/> against skimage.segmentation.felzenszwalb of scikit-image 0.19: the label
/// maps written by TestData/SelectiveSearch/make_felzenszwalb_fixtures.py for seeded blob images, skimage's astronaut,
/// camera and a 500×375 crop of coffee, over scale 1–500, sigma 0–1.2 and min_size 0–50.
/// </summary>
[TestClass]
public sealed class SelectiveSearchFelzenszwalbTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "SelectiveSearch");

    private sealed record FixtureCase(string Image, int Height, int Width, int Channels, long PixelSum, double Scale,
        double Sigma, int MinSize, int Segments, string Labels, bool Avx512Agrees);

    private sealed record SmoothingCase(double Sigma, string Output, bool Avx512Agrees);

    private sealed record Smoothing(int Height, int Width, int Channels, string Input, SmoothingCase[] Cases);

    /// <summary>Space-separated integers (values) and numpy.argsort's permutation of them (order).</summary>
    private sealed record ArgsortCase(string Values, string Order);

    private sealed record Manifest(string Skimage, FixtureCase[] Cases, Smoothing Smoothing, ArgsortCase[] Argsort);

    private static Manifest ReadManifest() =>
        JsonSerializer.Deserialize<Manifest>(File.ReadAllText(Path.Combine(Folder, "felzenszwalb.json")),
            new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;

    public static IEnumerable<object[]> Cases() => ReadManifest().Cases.Select(c => new object[] { c.Labels });

    public static string CaseName(System.Reflection.MethodInfo _, object[] data) => (string)data[0];

    [TestMethod]
    public void FixturesComeFromSkimage019()
    {
        Manifest manifest = ReadManifest();
        StringAssert.StartsWith(manifest.Skimage, "0.19");
        Assert.IsTrue(manifest.Cases.Length >= 30, "every image with every parameter set");
        // The reference run has numpy's AVX-512 exp switched off; the AVX-512 run gave the same labels throughout.
        Assert.IsTrue(manifest.Cases.All(c => c.Avx512Agrees));
    }

    [TestMethod]
    [DynamicData(nameof(Cases), DynamicDataDisplayName = nameof(CaseName))]
    public void LabelsEqualSkimage(string labelsFile)
    {
        FixtureCase c = ReadManifest().Cases.Single(x => x.Labels == labelsFile);
        byte[] pixels = ReadPixels(c.Image, c.Channels, out int height, out int width);
        Assert.AreEqual((c.Height, c.Width), (height, width), "image size");
        Assert.AreEqual(c.PixelSum, pixels.Sum(p => (long)p), "the PNG decoded to other pixels than skimage saw");
        int[] expected = ReadLabels(c.Labels, height * width);

        FelzenszwalbSegments segments = FelzenszwalbSegmentation.Segment(pixels, height, width, c.Channels,
            new FelzenszwalbOptions(c.Scale, c.Sigma, c.MinSize));

        Assert.AreEqual((height, width), (segments.Height, segments.Width));
        Assert.AreEqual(c.Segments, segments.Count, $"segment count; {Agreement(segments.Labels, expected):P3} of pixels agree under the best correspondence");
        int mismatch = -1;
        for (int i = 0; i < expected.Length && mismatch < 0; i++)
            if (expected[i] != segments.Labels[i]) mismatch = i;
        Assert.AreEqual(-1, mismatch,
            $"first differing pixel {mismatch} (row {mismatch / width}, column {mismatch % width}); {Agreement(segments.Labels, expected):P3} of pixels agree under the best correspondence");
        Assert.AreEqual(c.Segments - 1, segments.Labels.Max());
    }

    [TestMethod]
    public void SmoothingEqualsScipyGaussianFilterBitForBit()
    {
        Smoothing smoothing = ReadManifest().Smoothing;
        double[] input = Doubles(smoothing.Input);
        var differing = new List<string>();
        foreach (SmoothingCase c in smoothing.Cases)
        {
            double[] expected = Doubles(c.Output);
            double[] actual = FelzenszwalbSegmentation.GaussianSmooth(input, smoothing.Height, smoothing.Width,
                smoothing.Channels, c.Sigma);
            int bad = expected.Where((e, i) => BitConverter.DoubleToInt64Bits(e) != BitConverter.DoubleToInt64Bits(actual[i])).Count();
            if (bad > 0) differing.Add($"sigma {c.Sigma}: {bad} of {expected.Length} values");
        }
        Assert.AreEqual(0, differing.Count, string.Join("; ", differing));
        // numpy's AVX-512 exp rounds some kernel taps the other way: skimage's own output is then CPU-dependent.
        Assert.IsTrue(smoothing.Cases.Any(c => !c.Avx512Agrees));
    }

    [TestMethod]
    public void EdgeOrderEqualsNumpyArgsortTieForTie()
    {
        foreach (ArgsortCase c in ReadManifest().Argsort)
        {
            double[] values = c.Values.Split(' ').Select(double.Parse).ToArray();
            int[] order = NumpyArgsort.Argsort(values);
            CollectionAssert.AreEqual(c.Order.Split(' ').Select(int.Parse).ToArray(), order, $"{values.Length} values");
            // Not the stable order: ties are what this reproduces.
            if (values.Length > 16)
                CollectionAssert.AreNotEqual(Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray(), order);
        }
    }

    private static double[] Doubles(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex);
        var values = new double[bytes.Length / 8];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToDouble(bytes, i * 8);
        return values;
    }

    [TestMethod]
    public void FloatImageEqualsTheSameImageAsBytes()
    {
        byte[] pixels = ReadPixels("astronaut-128.png", 3, out int height, out int width);
        var options = new FelzenszwalbOptions(100, 0.5, 20);
        FelzenszwalbSegments fromBytes = FelzenszwalbSegmentation.Segment(pixels, height, width, 3, options);
        // skimage divides 8-bit pixels by multiplying with the double nearest 1/255, which is what these floats hold.
        double[] asDouble = pixels.Select(p => p * (1.0 / 255.0)).ToArray();
        FelzenszwalbSegments fromDouble = FelzenszwalbSegmentation.Segment(asDouble, height, width, 3, options);
        CollectionAssert.AreEqual(fromBytes.Labels, fromDouble.Labels);
        // Float32 pixels are different numbers: the segmentation is close, not equal.
        float[] asFloat = pixels.Select(p => p / 255f).ToArray();
        FelzenszwalbSegments fromFloat = FelzenszwalbSegmentation.Segment(asFloat, height, width, 3, options);
        Assert.IsTrue(Agreement(fromFloat.Labels, fromBytes.Labels) > 0.95);
    }

    [TestMethod]
    public void HandlesOnePixelWideImagesAndKernelsWiderThanTheImage()
    {
        // A 1×5 line with sigma 2 (radius 8): scipy's 'reflect' repeats the line mirrored (period 10).
        byte[] line = [0, 0, 0, 200, 200];
        FelzenszwalbSegments segments = FelzenszwalbSegmentation.Segment(line, 1, 5, 1, new FelzenszwalbOptions(1, 0, 0));
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 1, 1 }, segments.Labels);
        Assert.AreEqual(2, segments.Count);
        // skimage: felzenszwalb(line.reshape(5, 1), 1, 2, 0) gives 0 1 2 3 4; with min_size 3 all 0.
        FelzenszwalbSegments column = FelzenszwalbSegmentation.Segment(line, 5, 1, 1, new FelzenszwalbOptions(1, 2, 0));
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4 }, column.Labels);
        column = FelzenszwalbSegmentation.Segment(line, 5, 1, 1, new FelzenszwalbOptions(1, 2, 3));
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 0 }, column.Labels);
        Assert.AreEqual(1, column.Count);
    }

    [TestMethod]
    public void Segments500x375WellUnderASecond()
    {
        Console.WriteLine($"128×128 Felzenszwalb: median {MedianMilliseconds("astronaut-128.png"):F1} ms");
        double median = MedianMilliseconds("coffee-500x375.png");
        Console.WriteLine($"500×375 Felzenszwalb: median {median:F1} ms");
        Assert.IsTrue(median < 1000, $"median {median:F0} ms");
    }

    private static double MedianMilliseconds(string image)
    {
        byte[] pixels = ReadPixels(image, 3, out int height, out int width);
        var options = new FelzenszwalbOptions(100, 0.8, 20);
        FelzenszwalbSegmentation.Segment(pixels, height, width, 3, options);
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            FelzenszwalbSegmentation.Segment(pixels, height, width, 3, options);
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[2];
    }

    [TestMethod]
    public void BadInputsAreRejectedWithWhatToDo()
    {
        byte[] pixels = new byte[4 * 5 * 3];
        var bad = Assert.ThrowsExactly<ArgumentException>(() => FelzenszwalbSegmentation.Segment(pixels, 4, 6, 3));
        Assert.AreEqual("pixels", bad.ParamName);
        Assert.AreEqual(
            "The pixel buffer holds 60 values but a 4×6 image with 3 channel(s) needs height × width × channels = 72: pass the pixels row by row with the channels interleaved. (Parameter 'pixels')",
            bad.Message);

        var scale = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            FelzenszwalbSegmentation.Segment(pixels, 4, 5, 3, new FelzenszwalbOptions(Scale: 0)));
        Assert.AreEqual("options", scale.ParamName);
        Assert.AreEqual(
            "FelzenszwalbOptions.Scale must be positive and finite: it sets the segment size (skimage's scale, e.g. 100 to 500). (Parameter 'options')" +
            Environment.NewLine + "Actual value was 0.",
            scale.Message);

        var sigma = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            FelzenszwalbSegmentation.Segment(pixels, 4, 5, 3, new FelzenszwalbOptions(Sigma: -0.5)));
        StringAssert.StartsWith(sigma.Message,
            "FelzenszwalbOptions.Sigma must be non-negative and finite: it is the Gaussian smoothing's standard deviation in pixels (0 turns smoothing off, skimage's default is 0.8).");
        Assert.AreEqual(-0.5, sigma.ActualValue);

        var minSize = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            FelzenszwalbSegmentation.Segment(pixels, 4, 5, 3, new FelzenszwalbOptions(MinSize: -1)));
        StringAssert.StartsWith(minSize.Message, "FelzenszwalbOptions.MinSize must be non-negative");

        var channels = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            FelzenszwalbSegmentation.Segment(new byte[4 * 5 * 5], 4, 5, 5));
        Assert.AreEqual("channels", channels.ParamName);

        float[] withNaN = new float[4 * 5 * 3];
        withNaN[(2 * 5 + 3) * 3 + 1] = float.NaN;
        var nan = Assert.ThrowsExactly<ArgumentException>(() => FelzenszwalbSegmentation.Segment(withNaN, 4, 5, 3));
        Assert.AreEqual(
            "Pixel (row 2, column 3) channel 1 is NaN: the image must hold finite values. (Parameter 'pixels')",
            nan.Message);
    }

    private static byte[] ReadPixels(string image, int channels, out int height, out int width)
    {
        string path = Path.Combine(Folder, image);
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"{path}: not an image");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = SKBitmap.Decode(codec, info);
        height = info.Height;
        width = info.Width;
        ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
        var pixels = new byte[height * width * channels];
        for (int p = 0; p < height * width; p++)
            for (int c = 0; c < channels; c++)
                pixels[p * channels + c] = rgba[p * 4 + c];
        return pixels;
    }

    private static int[] ReadLabels(string file, int count)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(Folder, file)), CompressionMode.Decompress);
        var bytes = new byte[count * 4];
        gzip.ReadExactly(bytes);
        Assert.AreEqual(-1, gzip.ReadByte(), $"{file} holds more than {count} labels");
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = BitConverter.ToInt32(bytes, i * 4);
        return labels;
    }

    /// <summary>Share of pixels whose label maps onto the other map's label under the best one-to-one pairing
    /// (greedy by overlap, which is optimal for maps that differ little).</summary>
    private static double Agreement(int[] actual, int[] expected)
    {
        var overlap = new Dictionary<(int, int), int>();
        for (int i = 0; i < actual.Length; i++)
            overlap[(actual[i], expected[i])] = overlap.GetValueOrDefault((actual[i], expected[i])) + 1;
        var usedA = new HashSet<int>();
        var usedE = new HashSet<int>();
        long agreed = 0;
        foreach (var ((a, e), n) in overlap.OrderByDescending(kv => kv.Value))
            if (!usedA.Contains(a) && !usedE.Contains(e))
            {
                usedA.Add(a);
                usedE.Add(e);
                agreed += n;
            }
        return (double)agreed / actual.Length;
    }
}
