using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Tests.Transforms;

[TestClass]
public sealed class PixelMathTests
{
    [TestMethod]
    public void BilinearUpscaleUsesHalfPixelCentres()
    {
        // 2 → 4: source x = (x + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel).
        var up = BilinearResize.Resize([0, 100], 2, 1, 1, 4, 1);
        CollectionAssert.AreEqual(new byte[] { 0, 25, 75, 100 }, up);
    }

    [TestMethod]
    public void BilinearDownscaleAveragesNeighbourPairs()
    {
        // 4 → 2: source x = 0.5 and 2.5, halfway between neighbours.
        var down = BilinearResize.Resize([0, 10, 20, 30], 4, 1, 1, 2, 1);
        CollectionAssert.AreEqual(new byte[] { 5, 25 }, down);
        // Two channels are resampled independently; 2×2 → 1×1 takes the centre, the mean of all four.
        var mean = BilinearResize.Resize([0, 200, 100, 100, 40, 0, 60, 20], 2, 2, 2, 1, 1);
        CollectionAssert.AreEqual(new byte[] { 50, 80 }, mean);
    }

    [TestMethod]
    public void NearestMaskResizeNeverBlendsClasses()
    {
        var up = MaskOps.ResizeNearest([1, 2, 3, 4], 2, 2, 4, 4);
        CollectionAssert.AreEqual(new byte[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, up);
        // 8 → 6 columns: source floor((x + 0.5)·8/6) = 0, 2, 3, 4, 6, 7.
        var row = MaskOps.ResizeNearest([0, 1, 2, 3, 4, 5, 6, 7], 8, 1, 6, 1);
        CollectionAssert.AreEqual(new byte[] { 0, 2, 3, 4, 6, 7 }, row);
    }

    [TestMethod]
    public void MaskLetterboxPadsWithIgnoreAndInvertsBack()
    {
        // 4×2 mask (left half class 1, right half class 2) into 4×4: scale 1, content 4×2 at y = 1.
        byte[] mask = [1, 1, 2, 2, 1, 1, 2, 2];
        var g = LetterboxGeometry.Compute(4, 2, 4, 4, centred: true);
        var boxed = MaskOps.Letterbox(mask, 4, 2, g);
        CollectionAssert.AreEqual(new byte[]
        {
            255, 255, 255, 255,
            1, 1, 2, 2,
            1, 1, 2, 2,
            255, 255, 255, 255,
        }, boxed);
        CollectionAssert.AreEqual(mask, MaskOps.FromLetterbox(boxed, g));
    }

    [TestMethod]
    public void CropPasteAndFlipOnFourChannelGrids()
    {
        // 3×2 grid, pixel value = 10·y + x in every channel.
        var grid = new byte[3 * 2 * 4];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                grid.AsSpan((y * 3 + x) * 4, 4).Fill((byte)(10 * y + x));
        var crop = PixelGrid.Crop(grid, 3, 2, 4, new PixelRect(1, 1, 2, 1));
        CollectionAssert.AreEqual(new byte[] { 11, 11, 11, 11, 12, 12, 12, 12 }, crop);
        var flipped = PixelGrid.FlipHorizontal(grid, 3, 2, 4);
        Assert.AreEqual(2, flipped[0]);
        Assert.AreEqual(10, flipped[(1 * 3 + 2) * 4]);
        CollectionAssert.AreEqual(grid, PixelGrid.FlipHorizontal(flipped, 3, 2, 4));
        var canvas = PixelGrid.Filled(4, 3, [9, 9, 9, 9]);
        PixelGrid.Paste(canvas, 4, 3, crop, 2, 1, 4, 2, 2);
        Assert.AreEqual(9, canvas[(2 * 4 + 1) * 4]);
        Assert.AreEqual(11, canvas[(2 * 4 + 2) * 4]);
        Assert.AreEqual(12, canvas[(2 * 4 + 3) * 4]);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => PixelGrid.Crop(grid, 3, 2, 4, new PixelRect(2, 0, 2, 1)));
    }

    [TestMethod]
    public void StandardizationMatchesHandComputedValues()
    {
        // Values 10, 40, 20, 50, 30, 60: mean 35, deviations ±25, ±15, ±5, population variance 1750/6,
        // stddev 17.0782513 (> 1/√6), so outputs are deviation / 17.0782513.
        var (mean, std) = Standardization.Statistics([10, 40, 20, 50, 30, 60]);
        Assert.AreEqual(35f, mean);
        Assert.AreEqual(17.0782513f, std, 1e-5f);
        Read.AreClose([-1.4638501f, 0.2927700f, -0.8783101f, 0.8783101f, -0.2927700f, 1.4638501f],
            Standardization.Apply([10, 40, 20, 50, 30, 60]), 1e-5f, "standardized");
    }

    [TestMethod]
    public void StandardizationFloorsTheDivisorAtOneOverRootN()
    {
        // 0, 0, 0, 0.1: stddev 0.0433 < 1/√4 = 0.5, so the divisor is 0.5: (x - 0.025) / 0.5.
        Read.AreClose([-0.05f, -0.05f, -0.05f, 0.15f], Standardization.Apply([0, 0, 0, 0.1f]), 1e-6f, "floored");
        CollectionAssert.AreEqual(new float[] { 0, 0, 0 }, Standardization.Apply([7, 7, 7]));
    }

    [TestMethod]
    public void ContrastBlendsWithMeanGreyAndBrightnessMultiplies()
    {
        // BGRA pixels: grey 100 and grey 200 → mean grey 150. Contrast 0.5 → 125 and 175; alpha untouched.
        byte[] px = [100, 100, 100, 255, 200, 200, 200, 255];
        ColorJitter.AdjustContrast(px, 0.5f, redFirst: false);
        CollectionAssert.AreEqual(new byte[] { 125, 125, 125, 255, 175, 175, 175, 255 }, px);
        ColorJitter.AdjustBrightness(px, 2f);
        CollectionAssert.AreEqual(new byte[] { 250, 250, 250, 255, 255, 255, 255, 255 }, px);
    }
}
