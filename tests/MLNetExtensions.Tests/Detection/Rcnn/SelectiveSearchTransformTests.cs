using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Tests.Detection.Rcnn;

/// <summary><c>mlContext.Transforms.SelectiveSearch</c>: the proposals column, its schema checks and its options.</summary>
[TestClass]
public sealed class SelectiveSearchTransformTests
{
    private static readonly string Folder = Path.Combine(Path.GetTempPath(), "mlnet-selective-search-tests");

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class Scored
    {
        public float[] Proposals { get; set; } = [];
    }

    /// <summary>A 40×30 PNG: grey with a red 12×10 rectangle at (5, 4) and a green 9×14 one at (24, 12).</summary>
    private static (string Path, byte[] Rgb) RectanglesPng()
    {
        const int w = 40, h = 30;
        var rgb = new byte[w * h * 3];
        var bgra = new byte[w * h * 4];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                (byte r, byte g, byte b) = (x, y) switch
                {
                    ( >= 5 and < 17, >= 4 and < 14) => ((byte)230, (byte)20, (byte)20),
                    ( >= 24 and < 33, >= 12 and < 26) => ((byte)20, (byte)200, (byte)40),
                    _ => ((byte)100, (byte)100, (byte)100),
                };
                int p = y * w + x;
                (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = (r, g, b);
                (bgra[4 * p], bgra[4 * p + 1], bgra[4 * p + 2], bgra[4 * p + 3]) = (b, g, r, 255);
            }
        Directory.CreateDirectory(Folder);
        string path = Path.Combine(Folder, "rectangles.png");
        using var image = MLImage.CreateFromPixels(w, h, MLPixelFormat.Bgra32, bgra);
        image.Save(path);
        return (path, rgb);
    }

    private static float[][] Proposals(MLContext ml, IEstimator<ITransformer> estimator, params string[] paths)
    {
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new Row { ImagePath = p }));
        var scored = estimator.Fit(data).Transform(data);
        return ml.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false).Select(s => s.Proposals).ToArray();
    }

    [TestMethod]
    public void ProposalsAreSelectiveSearchOfTheFileInPixelsOfTheImageOnDisk()
    {
        var ml = new MLContext(seed: 1);
        var (path, rgb) = RectanglesPng();
        float[][] rows = Proposals(ml, ml.Transforms.SelectiveSearch(), path, path);
        float[] expected = SelectiveSearch.Propose(rgb, 30, 40);
        CollectionAssert.AreEqual(expected, rows[0]);
        CollectionAssert.AreEqual(expected, rows[1]);
        var boxes = rows[0].Chunk(4).Select(b => (b[0], b[1], b[2], b[3])).ToHashSet();
        Assert.IsTrue(boxes.Contains((5, 4, 17, 14)), "the red rectangle");
        Assert.IsTrue(boxes.Contains((24, 12, 33, 26)), "the green rectangle");
        Assert.IsTrue(boxes.Contains((0, 0, 40, 30)), "the image");

        var schema = ml.Transforms.SelectiveSearch().Fit(ml.Data.LoadFromEnumerable(new[] { new Row { ImagePath = path } }))
            .GetOutputSchema(ml.Data.LoadFromEnumerable(new[] { new Row() }).Schema);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single), schema["Proposals"].Type);
    }

    [TestMethod]
    public void MaxProposalsKeepsTheBestRankedAndOptionsReachTheSearch()
    {
        var ml = new MLContext(seed: 1);
        var (path, rgb) = RectanglesPng();
        var options = new SelectiveSearchEstimator.Options
        {
            OutputColumnName = "Boxes2", MaxProposals = 3, Strategy = SelectiveSearchStrategy.Quality, Seed = 4,
            MinRegionSize = 10, ImageFolder = Folder,
        };
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { ImagePath = Path.GetFileName(path) } });
        var column = ml.Transforms.SelectiveSearch(options).Fit(data).Transform(data).GetColumn<float[]>("Boxes2").Single();
        float[] all = SelectiveSearch.Propose(rgb, 30, 40,
            new SelectiveSearchOptions { Strategy = SelectiveSearchStrategy.Quality, Seed = 4, MinRegionSize = 10 });
        Assert.IsTrue(all.Length > 12);
        CollectionAssert.AreEqual(all[..12], column);
    }

    [TestMethod]
    public void AnImageWithNoProposalLeftGivesAnEmptyVector()
    {
        var ml = new MLContext(seed: 1);
        var (path, _) = RectanglesPng();
        float[][] rows = Proposals(ml, ml.Transforms.SelectiveSearch(new SelectiveSearchEstimator.Options { MinBoxSize = 31 }), path);
        Assert.AreEqual(0, rows[0].Length);
    }

    [TestMethod]
    public void AWrongOrMissingColumnFailsAtFitNamingIt()
    {
        var ml = new MLContext(seed: 1);
        var numbers = ml.Data.LoadFromEnumerable(new[] { new { ImagePath = 1f } });
        var mistyped = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.SelectiveSearch().Fit(numbers));
        Assert.AreEqual("SelectiveSearch: input column 'ImagePath' (image path) is Single, but it must be a scalar Text column holding image file paths (for example ImagePath of LoadFromPascalVoc).", mistyped.Message);

        var other = ml.Data.LoadFromEnumerable(new[] { new Row() });
        var estimator = ml.Transforms.SelectiveSearch(imagePathColumnName: "File");
        var missing = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(other));
        Assert.AreEqual("SelectiveSearch: input column 'File' (image path) was not found; it must be a scalar Text column holding image file paths (for example ImagePath of LoadFromPascalVoc). Columns: ImagePath.", missing.Message);
        var shape = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(other.Schema)));
        Assert.AreEqual(missing.Message, shape.Message);
    }

    [TestMethod]
    public void AMissingFileNamesTheRowAndThePath()
    {
        var ml = new MLContext(seed: 1);
        var (path, _) = RectanglesPng();
        string absent = Path.Combine(Folder, "absent.png");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => Proposals(ml, ml.Transforms.SelectiveSearch(), path, absent));
        Assert.AreEqual($"SelectiveSearch: row 1: the image '{absent}' does not exist (column 'ImagePath').", e.Message);
    }

    [TestMethod]
    public void BadOptionsSayWhatIsWrong()
    {
        var max = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchEstimator.Options { MaxProposals = 0 });
        Assert.AreEqual("SelectiveSearchEstimator.Options.MaxProposals must be positive: it is the most proposals kept per image (2000 in R-CNN). (Parameter 'MaxProposals')\nActual value was 0.", max.Message.ReplaceLineEndings("\n"));
        var output = Assert.ThrowsExactly<ArgumentException>(() => new SelectiveSearchEstimator.Options { OutputColumnName = " " });
        Assert.AreEqual("'OutputColumnName' must name a column. (Parameter 'OutputColumnName')", output.Message);
        var path = Assert.ThrowsExactly<ArgumentException>(() => new MLContext().Transforms.SelectiveSearch(imagePathColumnName: ""));
        Assert.AreEqual("'ImagePathColumnName' must name a column. (Parameter 'ImagePathColumnName')", path.Message);
        var strategy = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchEstimator.Options { Strategy = (SelectiveSearchStrategy)2 });
        Assert.AreEqual("SelectiveSearchOptions.Strategy must be SelectiveSearchStrategy.Fast or SelectiveSearchStrategy.Quality. (Parameter 'Strategy')\nActual value was 2.", strategy.Message.ReplaceLineEndings("\n"));
        var minBox = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SelectiveSearchEstimator.Options { MinBoxSize = -3 });
        StringAssert.StartsWith(minBox.Message, "SelectiveSearchOptions.MinBoxSize must be non-negative");

        var options = new SelectiveSearchEstimator.Options();
        Assert.AreEqual(("Proposals", "ImagePath", 2000, SelectiveSearchStrategy.Fast, 0, 0, (string?)null, (int?)null),
            (options.OutputColumnName, options.ImagePathColumnName, options.MaxProposals, options.Strategy, options.Seed,
             options.MinBoxSize, options.ImageFolder, options.MinRegionSize));
    }

    [TestMethod]
    public void SavingSaysToAppendItAgain()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row() });
        var model = ml.Transforms.SelectiveSearch().Fit(data);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(model, data.Schema, new MemoryStream()));
        Assert.AreEqual("SelectiveSearch cannot be saved with mlContext.Model.Save: it learns nothing, so save the model without it and append mlContext.Transforms.SelectiveSearch(...) again after loading.", e.Message);
    }
}
