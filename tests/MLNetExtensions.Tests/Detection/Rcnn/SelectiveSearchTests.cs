using MLNetExtensions.Detection.Rcnn;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary>
/// <see cref="SelectiveSearch"/>: known answers on hand-made images, its similarities on hand-made histograms, the
/// colour conversions on known values, determinism and the messages of bad arguments.
/// </summary>
[TestClass]
public sealed class SelectiveSearchTests
{
    private const int Width = 64, Height = 48;

    /// <summary>A 64×48 grey background with a red 20×20 square at (8, 10) and a blue one touching its right side.</summary>
    private static byte[] TwoSquares()
    {
        var rgb = new byte[Height * Width * 3];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                (byte r, byte g, byte b) = (x, y) switch
                {
                    ( >= 8 and < 28, >= 10 and < 30) => ((byte)220, (byte)30, (byte)30),
                    ( >= 28 and < 48, >= 10 and < 30) => ((byte)30, (byte)40, (byte)210),
                    _ => ((byte)120, (byte)120, (byte)120),
                };
                int i = (y * Width + x) * 3;
                rgb[i] = r; rgb[i + 1] = g; rgb[i + 2] = b;
            }
        return rgb;
    }

    private static HashSet<(float, float, float, float)> AsSet(float[] boxes)
    {
        var set = new HashSet<(float, float, float, float)>();
        for (int i = 0; i < boxes.Length; i += 4) set.Add((boxes[i], boxes[i + 1], boxes[i + 2], boxes[i + 3]));
        return set;
    }

    [TestMethod]
    [DataRow(SelectiveSearchStrategy.Fast)]
    [DataRow(SelectiveSearchStrategy.Quality)]
    public void TwoFlatSquaresGiveTheirExactBoxesTheirUnionAndTheImage(SelectiveSearchStrategy strategy)
    {
        float[] boxes = SelectiveSearch.Propose(TwoSquares(), Height, Width, new SelectiveSearchOptions { Strategy = strategy });
        var set = AsSet(boxes);
        Assert.AreEqual(set.Count * 4, boxes.Length, "no box twice");
        Assert.IsTrue(set.Contains((8, 10, 28, 30)), "the red square");
        Assert.IsTrue(set.Contains((28, 10, 48, 30)), "the blue square");
        Assert.IsTrue(set.Contains((8, 10, 48, 30)), "both squares");
        Assert.IsTrue(set.Contains((0, 0, Width, Height)), "the whole image");
        // Smoothing (σ = 0.8) leaves each square a one-pixel rim of mixed colour that k = 50 keeps as its own segment
        // (it is larger than min_size): the other boxes are rims and unions of them, all at the squares, none in the
        // flat background.
        foreach (var (x0, y0, x1, y1) in set)
            Assert.IsTrue((x0, y0, x1, y1) == (0, 0, Width, Height) || (x0 >= 5 && y0 >= 7 && x1 <= 51 && y1 <= 33),
                $"({x0}, {y0}, {x1}, {y1})");
    }

    [TestMethod]
    public void AFlatImageIsOneProposalAndMinBoxSizeCanLeaveNone()
    {
        var gray = Enumerable.Repeat((byte)77, 10 * 12 * 3).ToArray();
        CollectionAssert.AreEqual(new float[] { 0, 0, 12, 10 }, SelectiveSearch.Propose(gray, 10, 12));
        Assert.AreEqual(0, SelectiveSearch.Propose(gray, 10, 12, new SelectiveSearchOptions { MinBoxSize = 11 }).Length);
        CollectionAssert.AreEqual(new float[] { 0, 0, 12, 10 },
            SelectiveSearch.Propose(gray, 10, 12, new SelectiveSearchOptions { MinBoxSize = 10 }));
    }

    [TestMethod]
    public void MinBoxSizeDropsNarrowAndLowBoxesAndKeepsTheOrder()
    {
        var quality = new SelectiveSearchOptions { Strategy = SelectiveSearchStrategy.Quality };
        float[] all = SelectiveSearch.Propose(TwoSquares(), Height, Width, quality);
        float[] large = SelectiveSearch.Propose(TwoSquares(), Height, Width, quality with { MinBoxSize = 21 });
        var expected = all.Chunk(4).Where(b => b[2] - b[0] >= 21 && b[3] - b[1] >= 21).SelectMany(b => b).ToArray();
        CollectionAssert.AreEqual(expected, large);
        Assert.IsTrue(large.Length >= 8 && large.Length < all.Length, $"{large.Length / 4} of {all.Length / 4}");
        Assert.IsFalse(AsSet(large).Contains((8, 10, 48, 30)), "the two squares together are 20 high");
    }

    [TestMethod]
    public void ASquareSmallerThanKIsFoundOnlyWithASmallerMinRegionSize()
    {
        // A 6×6 yellow square (36 pixels) on grey: min_size = k (≥ 50) merges it into the background before grouping.
        const int h = 32, w = 32;
        var rgb = new byte[h * w * 3];
        for (int p = 0; p < h * w; p++)
        {
            int x = p % w, y = p / w;
            bool inside = x is >= 12 and < 18 && y is >= 20 and < 26;
            (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = inside ? ((byte)240, (byte)220, (byte)10) : ((byte)90, (byte)90, (byte)90);
        }
        var quality = new SelectiveSearchOptions { Strategy = SelectiveSearchStrategy.Quality };
        Assert.IsFalse(AsSet(SelectiveSearch.Propose(rgb, h, w, quality)).Any(b => b.Item1 >= 11 && b.Item3 <= 19 && b.Item2 >= 19 && b.Item4 <= 27));
        var boxes = AsSet(SelectiveSearch.Propose(rgb, h, w, quality with { MinRegionSize = 16 }));
        Assert.IsTrue(boxes.Contains((12, 20, 18, 26)), string.Join(" ", boxes));
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => quality with { MinRegionSize = -1 });
        Assert.AreEqual("SelectiveSearchOptions.MinRegionSize must be non-negative or null: it is Felzenszwalb's min_size in pixels (null uses each segmentation's k, as the paper). (Parameter 'MinRegionSize')\nActual value was -1.", e.Message.ReplaceLineEndings("\n"));
    }

    [TestMethod]
    public void SameSeedGivesTheSameBoxesAndAnotherSeedReordersThem()
    {
        byte[] image = NoisyImage(40, 56, seed: 3);
        float[] first = SelectiveSearch.Propose(image, 40, 56, new SelectiveSearchOptions { Seed = 5 });
        float[] again = SelectiveSearch.Propose(image, 40, 56, new SelectiveSearchOptions { Seed = 5 });
        float[] other = SelectiveSearch.Propose(image, 40, 56, new SelectiveSearchOptions { Seed = 6 });
        Assert.IsTrue(first.Length > 40, $"{first.Length / 4} boxes");
        CollectionAssert.AreEqual(first, again);
        CollectionAssert.AreNotEqual(first, other);
        // The seed only ranks: the same boxes, in another order (duplicates are dropped either way).
        Assert.IsTrue(AsSet(first).SetEquals(AsSet(other)));
    }

    [TestMethod]
    public void BoxesLieInsideTheImageAndAreNotEmpty()
    {
        byte[] image = NoisyImage(33, 47, seed: 9);
        float[] boxes = SelectiveSearch.Propose(image, 33, 47, new SelectiveSearchOptions { Strategy = SelectiveSearchStrategy.Quality });
        for (int i = 0; i < boxes.Length; i += 4)
        {
            Assert.IsTrue(boxes[i] >= 0 && boxes[i + 1] >= 0 && boxes[i + 2] <= 47 && boxes[i + 3] <= 33);
            Assert.IsTrue(boxes[i + 2] > boxes[i] && boxes[i + 3] > boxes[i + 1]);
        }
        Assert.IsTrue(AsSet(boxes).Contains((0, 0, 47, 33)), "the last merge of every hierarchy");
    }

    /// <summary>Blocks of random flat colours with a little noise: many regions, many merges.</summary>
    private static byte[] NoisyImage(int height, int width, int seed)
    {
        var random = new Random(seed);
        var block = new byte[(height / 8 + 1) * (width / 8 + 1) * 3];
        random.NextBytes(block);
        var rgb = new byte[height * width * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                {
                    int v = block[((y / 8) * (width / 8 + 1) + x / 8) * 3 + c] + random.Next(-6, 7);
                    rgb[(y * width + x) * 3 + c] = (byte)Math.Clamp(v, 0, 255);
                }
        return rgb;
    }

    [TestMethod]
    public void SimilaritiesOnHandMadeHistograms()
    {
        float[] a = [0.5f, 0.5f, 0f, 0f], b = [0.25f, 0.25f, 0.25f, 0.25f];
        Assert.AreEqual(0.5, RegionSimilarity.Intersection(a, b), 1e-12);
        Assert.AreEqual(1.0, RegionSimilarity.Intersection(b, b), 1e-12);
        Assert.AreEqual(0.0, RegionSimilarity.Intersection([1f, 0f], [0f, 1f]), 1e-12);
        // 10 + 20 pixels of a 100-pixel image; their box covers 50 pixels, 20 of them neither region's.
        Assert.AreEqual(0.7, RegionSimilarity.Size(10, 20, 100), 1e-12);
        Assert.AreEqual(0.8, RegionSimilarity.Fill(10, 20, 50, 100), 1e-12);
        Assert.AreEqual(1.0, RegionSimilarity.Fill(10, 20, 30, 100), 1e-12);
        var merged = new float[4];
        RegionSimilarity.Merge(a, 1, b, 3, merged);
        CollectionAssert.AreEqual(new[] { 0.3125f, 0.3125f, 0.1875f, 0.1875f }, merged);
        Assert.AreEqual(1.0, merged.Sum(), 1e-6, "the union's histogram stays L1-normalised");
    }

    [TestMethod]
    public void InitialRegionsHaveSizesBoxesNeighboursAndNormalisedHistograms()
    {
        // Labels of a 3×4 image: 0 | 1 on top, 2 below both, region 0 touching 2 only diagonally is still a neighbour.
        int[] labels = [0, 0, 1, 1, 0, 1, 1, 1, 2, 2, 2, 2];
        var segments = new FelzenszwalbSegments(labels, 3, 4, 3);
        byte[] gray = [0, 0, 255, 255, 0, 255, 255, 255, 100, 100, 100, 100];
        var features = RegionFeatures.Compute(gray, 3, 4, 1);
        InitialRegions regions = InitialRegions.Build(segments, features);
        CollectionAssert.AreEqual(new[] { 3, 5, 4 }, regions.Sizes);
        CollectionAssert.AreEqual(new[] { 0, 0, 2, 2, 1, 0, 4, 2, 0, 2, 4, 3 }, regions.Boxes);
        CollectionAssert.AreEqual(new[] { (0, 1), (0, 2), (1, 2) }, regions.Neighbours);
        // Colour: 25 bins over 0–255, so 0 → bin 0, 255 → bin 24, 100 → bin 9.
        Assert.AreEqual(1f, regions.Colour[0]);
        Assert.AreEqual(1f, regions.Colour[25 + 24]);
        Assert.AreEqual(1f, regions.Colour[50 + 9]);
        for (int r = 0; r < 3; r++)
            Assert.AreEqual(1.0, regions.Texture.AsSpan(r * 80, 80).ToArray().Sum(), 1e-6, $"texture of region {r}");
    }

    [TestMethod]
    public void TextureSeesTheDirectionOfAnEdge()
    {
        // A vertical step, dark to bright left to right: +x responds, −x and ±y do not (bins are per orientation).
        const int h = 12, w = 12;
        var image = new byte[h * w];
        for (int y = 0; y < h; y++) for (int x = 6; x < w; x++) image[y * w + x] = 200;
        var features = RegionFeatures.Compute(image, h, w, 1);
        int centre = (6 * w + 6) * 8; // on the edge's bright side
        Assert.AreEqual(9, features.Texture[centre + 0], "+x: the strongest response of the image");
        Assert.AreEqual(0, features.Texture[centre + 1], "−x");
        Assert.AreEqual(0, features.Texture[centre + 4], "+y");
        Assert.AreEqual(0, features.Texture[centre + 5], "−y");
        Assert.IsTrue(features.Texture[centre + 2] > 0 && features.Texture[centre + 7] > 0, "the diagonals see half of it");
        Assert.AreEqual(0, features.Texture[(6 * w + 0) * 8 + 0], "far from the edge");
    }

    [TestMethod]
    public void HsvMatchesOpenCvsEightBitConvention()
    {
        // R, G, B → H (degrees / 2), S, V as cv::cvtColor(COLOR_RGB2HSV) gives for CV_8U.
        (byte[] Rgb, byte[] Hsv)[] cases =
        [
            ([255, 0, 0], [0, 255, 255]),
            ([0, 255, 0], [60, 255, 255]),
            ([0, 0, 255], [120, 255, 255]),
            ([255, 255, 0], [30, 255, 255]),
            ([255, 0, 255], [150, 255, 255]),
            ([0, 0, 0], [0, 0, 0]),
            ([128, 128, 128], [0, 0, 128]),
            // 255·100/200 = 127.5: OpenCV's fixed point gives 127, not a float formula's 128.
            ([100, 150, 200], [105, 127, 200]),
        ];
        foreach (var (rgb, hsv) in cases)
            CollectionAssert.AreEqual(hsv, ColourSpaces.RgbToHsv(rgb), $"RGB {string.Join(",", rgb)}");
        // Hues just below 360°: −0.12 (in half degrees) rounds half up to 0; −0.59 rounds to −1, which wraps to 179.
        CollectionAssert.AreEqual(new byte[] { 0, 255, 255 }, ColourSpaces.RgbToHsv([255, 0, 1]));
        CollectionAssert.AreEqual(new byte[] { 179, 255, 255 }, ColourSpaces.RgbToHsv([255, 0, 5]));
        CollectionAssert.AreEqual(new byte[] { 0, 120 }, ColourSpaces.Hue([0, 255, 255, 120, 255, 255]));
    }

    [TestMethod]
    public void GrayIsBt601InOpenCvsFixedPoint()
    {
        CollectionAssert.AreEqual(new byte[] { 76, 150, 29, 255, 0, 128 },
            ColourSpaces.RgbToGray([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128]));
        CollectionAssert.AreEqual(new byte[] { 10, 20, 18 }, ColourSpaces.RgbToRgI([10, 20, 30]));
    }

    [TestMethod]
    public void LabOfKnownColours()
    {
        // sRGB red is L* 53.24, a* 80.09, b* 67.20 (D65): 8-bit 136, 208, 195 (cv::cvtColor gives the same).
        CollectionAssert.AreEqual(new byte[] { 136, 208, 195 }, ColourSpaces.RgbToLab([255, 0, 0]));
        CollectionAssert.AreEqual(new byte[] { 255, 128, 128 }, ColourSpaces.RgbToLab([255, 255, 255]));
        CollectionAssert.AreEqual(new byte[] { 0, 128, 128 }, ColourSpaces.RgbToLab([0, 0, 0]));
        // sRGB green: L* 87.73, a* −86.18, b* 83.18; blue: L* 32.30, a* 79.19, b* −107.86.
        CollectionAssert.AreEqual(new byte[] { 224, 42, 211 }, ColourSpaces.RgbToLab([0, 255, 0]));
        CollectionAssert.AreEqual(new byte[] { 82, 207, 20 }, ColourSpaces.RgbToLab([0, 0, 255]));
    }

    [TestMethod]
    public void BadArgumentsAndOptionsSayWhatIsWrong()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => SelectiveSearch.Propose(new byte[10], 2, 2));
        Assert.AreEqual("The pixel buffer holds 10 bytes but a 2×2 RGB image needs height × width × 3 = 12: pass the pixels row by row with R, G, B interleaved. (Parameter 'rgb')", e.Message);
        var rows = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SelectiveSearch.Propose([], 0, 2));
        Assert.AreEqual("The image needs at least one row. (Parameter 'height')\nActual value was 0.", rows.Message.ReplaceLineEndings("\n"));
        var strategy = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchOptions { Strategy = (SelectiveSearchStrategy)7 });
        Assert.AreEqual("SelectiveSearchOptions.Strategy must be SelectiveSearchStrategy.Fast or SelectiveSearchStrategy.Quality. (Parameter 'Strategy')\nActual value was 7.", strategy.Message.ReplaceLineEndings("\n"));
        var sigma = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchOptions { Sigma = double.NaN });
        Assert.AreEqual("SelectiveSearchOptions.Sigma must be non-negative and finite: it is the Felzenszwalb smoothing's standard deviation in pixels (0.8 in the paper and OpenCV). (Parameter 'Sigma')\nActual value was NaN.", sigma.Message.ReplaceLineEndings("\n"));
        var minBox = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchOptions { MinBoxSize = -1 });
        Assert.AreEqual("SelectiveSearchOptions.MinBoxSize must be non-negative: proposals narrower or lower than it (in pixels) are left out, 0 keeps all. (Parameter 'MinBoxSize')\nActual value was -1.", minBox.Message.ReplaceLineEndings("\n"));
    }
}
