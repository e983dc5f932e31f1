using MLNetExtensions.Visualization;
using SkiaSharp;

namespace MLNetExtensions.Tests.Visualization;

[TestClass]
public sealed class DetectionVisualizerTests
{
    private static SKBitmap Black(int size)
    {
        var bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(SKColors.Black);
        return bitmap;
    }

    private static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png) ?? throw new AssertFailedException("not a PNG");

    [TestMethod]
    public void APredictedBoxIsStrokedInItsClassColourOnItsEdges()
    {
        using var image = Black(40);
        var png = new DetectionVisualizer(["circle", "square"], lineWidth: 2).Draw(image, [new DrawnBox(10, 10, 30, 30, 1, 0.9f)]);
        using var drawn = Decode(png);
        var colour = Palette.ForClass(1); // VOC colour 2: (0, 128, 0)
        Assert.AreEqual(new SKColor(0, 128, 0), colour);
        // A 2-px stroke centred on each edge covers the pixels on both sides of it.
        foreach (var (x, y) in new[] { (9, 20), (10, 20), (29, 20), (30, 20), (20, 29), (20, 30) })
            Assert.AreEqual(colour, drawn.GetPixel(x, y), $"edge pixel ({x}, {y})");
        foreach (var (x, y) in new[] { (20, 20), (12, 20), (27, 25), (5, 35), (35, 20) })
            Assert.AreEqual(SKColors.Black, drawn.GetPixel(x, y), $"pixel ({x}, {y}) off the edges stays as it was");
        // The "square 0.90" label sits on a filled tag in the class colour above the box (clamped to the top).
        Assert.AreEqual(colour, drawn.GetPixel(11, 1));
    }

    [TestMethod]
    public void ALabelAtTheRightEdgeIsShiftedIntoTheImage()
    {
        using var image = Black(60);
        var png = new DetectionVisualizer(["circle"], lineWidth: 2).Draw(image, [new DrawnBox(50, 30, 59, 50, 0, 0.9f)]);
        using var drawn = Decode(png);
        var colour = Palette.ForClass(0);
        // "circle 0.90" is wider than the 10 px between the box and the right edge: its tag starts left of the box.
        int tagRow = 30 - 5;
        Assert.AreEqual(colour, drawn.GetPixel(59, tagRow), "the tag reaches the right edge");
        Assert.IsTrue(Enumerable.Range(20, 25).Any(x => drawn.GetPixel(x, tagRow) == colour), "the tag extends left of the box");
        Assert.AreEqual(SKColors.Black, drawn.GetPixel(2, 45), "nothing drawn far from the box");
    }

    [TestMethod]
    public void ScaleEnlargesImageAndBoxesTogether()
    {
        using var image = Black(40);
        var png = new DetectionVisualizer(["circle"], lineWidth: 2, scale: 2).Draw(image, [new DrawnBox(10, 10, 30, 30, 0, null)]);
        using var drawn = Decode(png);
        Assert.AreEqual((80, 80), (drawn.Width, drawn.Height));
        Assert.AreEqual(Palette.ForClass(0), drawn.GetPixel(20, 40), "left edge at x = 2 × 10");
        Assert.AreEqual(Palette.ForClass(0), drawn.GetPixel(60, 40), "right edge at x = 2 × 30");
        Assert.AreEqual(SKColors.Black, drawn.GetPixel(40, 40));
    }

    [TestMethod]
    public void GroundTruthIsADashedWhiteOutline()
    {
        using var image = Black(40);
        using var drawn = Decode(new DetectionVisualizer(["circle"]).Draw(image, [], [new DrawnBox(5, 5, 35, 35, 0)]));
        var topEdge = Enumerable.Range(6, 28).Select(x => drawn.GetPixel(x, 5)).ToList();
        int white = topEdge.Count(c => c == SKColors.White), black = topEdge.Count(c => c == SKColors.Black);
        Assert.IsGreaterThan(10, white, "dashes drawn in white along the top edge");
        Assert.IsGreaterThan(5, black, "gaps between the dashes");
        Assert.AreEqual(white + black, topEdge.Count, "nothing but dashes and gaps on the edge");
        Assert.AreEqual(SKColors.Black, drawn.GetPixel(20, 20), "the inside is left alone");
        Assert.AreEqual(SKColors.Black, drawn.GetPixel(20, 8));
    }

    [TestMethod]
    public void AnImageThatCannotBeDecodedIsNamed()
    {
        using var temp = new Data.TempFolder();
        File.WriteAllText(temp["x.png"], "not an image");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => new DetectionVisualizer(["a"]).Draw(temp["x.png"], []));
        Assert.AreEqual($"Image '{temp["x.png"]}' cannot be decoded. Check that it is a PNG, JPEG, BMP, GIF or WebP file.", e.Message);
    }
}
