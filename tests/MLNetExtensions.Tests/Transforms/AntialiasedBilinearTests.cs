using System.Text.Json;
using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Tests.Transforms;

/// <summary>
/// <see cref="AntialiasedBilinear"/> against PyTorch's <c>F.interpolate(mode="bilinear", antialias=True,
/// align_corners=False)</c> (TestData/Resize/antialiased.json, written by make_antialiased.py with Debian's torch 1.13):
/// shrinking and enlarging whole images, a crop window (as resizing the cropped pixels) and a zoom-out window reaching
/// beyond the image (as resizing the image padded with the fill colour).
/// </summary>
[TestClass]
public sealed class AntialiasedBilinearTests
{
    [TestMethod]
    public void ResamplingMatchesPyTorchsAntialiasedBilinearInterpolation()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "Resize", "antialiased.json")));
        var cases = json.RootElement.GetProperty("cases").EnumerateArray().ToList();
        int checkedCases = 0;
        foreach (var c in cases.Where(c => c.TryGetProperty("expected", out _)))
        {
            var image = cases[c.GetProperty("source").GetInt32()];
            int channels = image.GetProperty("channels").GetInt32(), width = image.GetProperty("width").GetInt32(), height = image.GetProperty("height").GetInt32();
            var pixels = image.GetProperty("pixels").EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray();
            var window = c.GetProperty("window").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var fill = c.TryGetProperty("fill", out var f) ? f.EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray() : new byte[channels];
            var size = c.GetProperty("out").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var expected = c.GetProperty("expected").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var actual = new float[channels * size[0] * size[1]];
            AntialiasedBilinear.Resample(pixels, width, height, channels, fill, window[0], window[1], window[2], window[3], size[0], size[1], actual);
            float worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.IsLessThan(2e-3f, worst, $"{c.GetProperty("name").GetString()}: largest difference {worst}");
            checkedCases++;
        }
        Assert.AreEqual(15, checkedCases);
    }

    [TestMethod]
    public void ResizingToTheSameSizeKeepsThePixelsAndShrinkingAveragesEverySourcePixel()
    {
        var pixels = Enumerable.Range(0, 3 * 6 * 4).Select(i => (byte)(i * 7)).ToArray();
        CollectionAssert.AreEqual(pixels, AntialiasedBilinear.ResizeToBytes(pixels, 6, 4, 3, 6, 4));
        // A one-pixel-wide line at x = 5 in an 8×8 black image shrunk to 2×2: nearest-neighbour sampling reads x = 2 and 6 and
        // loses it; the filter keeps it: a quarter of the right column (weight 0.875 of 3.5), 1/28 of the left (0.125 of 3.5).
        var line = new byte[64];
        for (int y = 0; y < 8; y++) line[y * 8 + 5] = 255;
        var small = AntialiasedBilinear.ResizeToBytes(line, 8, 8, 1, 2, 2);
        CollectionAssert.AreEqual(new byte[] { 9, 64, 9, 64 }, small, string.Join(",", small));
    }
}
