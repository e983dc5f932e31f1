using MLNetExtensions.Visualization;
using SkiaSharp;

namespace MLNetExtensions.Tests.Visualization;

[TestClass]
public sealed class ImageGridTests
{
    private static byte[] Filled(int width, int height, SKColor colour)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(colour);
        using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png) ?? throw new AssertFailedException("not a PNG");

    [TestMethod]
    public void PicturesFillRowsLeftToRightInCellsOfTheLargestSize()
    {
        var red = Filled(10, 8, SKColors.Red);
        var blue = Filled(10, 8, SKColors.Blue);
        var green = Filled(6, 6, SKColors.Lime);
        using var grid = Decode(ImageGrid.Png([red, blue, green], columns: 2, gap: 4));
        // Two columns of 10-px cells and two rows of 8-px cells, with 4-px gaps between and around them.
        Assert.AreEqual((2 * 10 + 3 * 4, 2 * 8 + 3 * 4), (grid.Width, grid.Height));
        Assert.AreEqual(SKColors.Red, grid.GetPixel(4, 4));
        Assert.AreEqual(SKColors.Red, grid.GetPixel(13, 11));
        Assert.AreEqual(SKColors.Blue, grid.GetPixel(18, 4), "second cell of the first row");
        Assert.AreEqual(SKColors.Lime, grid.GetPixel(4, 16), "third picture starts the second row");
        Assert.AreEqual(SKColors.White, grid.GetPixel(10, 16), "a smaller picture leaves the rest of its cell white");
        Assert.AreEqual(SKColors.White, grid.GetPixel(20, 20), "the empty last cell is white");
        Assert.AreEqual(SKColors.White, grid.GetPixel(15, 4), "the gap between cells is white");
    }

    [TestMethod]
    public void CaptionsAreWrittenUnderEachPicture()
    {
        var black = Filled(60, 20, SKColors.Black);
        using var plain = Decode(ImageGrid.Png([black, black], columns: 2, gap: 2));
        using var captioned = Decode(ImageGrid.Png([black, black], columns: 2, captions: ["ground truth", "prediction"], gap: 2));
        Assert.AreEqual(plain.Width, captioned.Width);
        Assert.IsGreaterThan(plain.Height + 10, captioned.Height, "a caption line under the row");
        int Inked(int left) => Enumerable.Range(left, 60).Sum(x => Enumerable.Range(22, captioned.Height - 24).Count(y => captioned.GetPixel(x, y).Red < 128));
        Assert.IsGreaterThan(20, Inked(2), "text under the first picture");
        Assert.IsGreaterThan(20, Inked(64), "text under the second picture");
    }

    [TestMethod]
    public void ColumnsBeyondThePictureCountDoNotWidenTheGrid()
    {
        using var grid = Decode(ImageGrid.Png([Filled(10, 10, SKColors.Red)], columns: 4, gap: 1));
        Assert.AreEqual((12, 12), (grid.Width, grid.Height));
    }

    [TestMethod]
    public void BadInputIsNamed()
    {
        var png = Filled(4, 4, SKColors.Red);
        var captions = Assert.ThrowsExactly<ArgumentException>(() => ImageGrid.Png([png, png], 2, captions: ["one"]));
        StringAssert.StartsWith(captions.Message, "There are 1 captions for 2 pictures; give one caption per picture, or none.");
        var bytes = Assert.ThrowsExactly<ArgumentException>(() => ImageGrid.Png([png, [1, 2, 3]], 2));
        StringAssert.StartsWith(bytes.Message, "Picture 1 (3 bytes) cannot be decoded; pass PNG bytes such as DetectionVisualizer.Draw returns.");
        var none = Assert.ThrowsExactly<ArgumentException>(() => ImageGrid.Png([], 2));
        StringAssert.StartsWith(none.Message, "No pictures to lay out.");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageGrid.Png([png], 0));
    }
}
