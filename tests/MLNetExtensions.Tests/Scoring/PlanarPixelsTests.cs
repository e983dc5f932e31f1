using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Data;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>The batched scorer's pixel copy gives exactly what the scoring chain's <c>ExtractPixels</c> gives.</summary>
[TestClass]
public sealed class PlanarPixelsTests
{
    [TestMethod]
    [DataRow(false, 40, 30)]
    [DataRow(true, 40, 30)]
    [DataRow(false, 300, 300)]
    public void PlanarPixelsEqualExtractPixels(bool grayscale, int width, int height)
    {
        var ml = new MLContext(1);
        var images = Directory.GetFiles(Path.Combine(SharedDatasets.SyntheticShapes, "JPEGImages"), "*.png").Order().Take(3).ToArray();
        var data = ml.Data.LoadFromEnumerable(images.Select(p => new TinyTrainedDetector.ImageRow { ImagePath = p }));
        var input = new NetworkInput(width, height, grayscale);
        var view = input.PixelPipeline(ml, nameof(TinyTrainedDetector.ImageRow.ImagePath), "Pixels", asFloat: true).Fit(data).Transform(data);

        int channels = grayscale ? 1 : 3, rows = 0;
        using var cursor = view.GetRowCursor([view.Schema["Pixels"], view.Schema[ScoringColumns.Image]]);
        var getPixels = cursor.GetGetter<VBuffer<float>>(view.Schema["Pixels"]);
        var getImage = cursor.GetGetter<MLImage>(view.Schema[ScoringColumns.Image]);
        VBuffer<float> expected = default;
        MLImage image = null!;
        while (cursor.MoveNext())
        {
            getPixels(ref expected);
            getImage(ref image);
            var actual = new float[channels * width * height];
            PlanarPixels.Write(image, channels, actual);
            CollectionAssert.AreEqual(expected.DenseValues().ToArray(), actual, $"row {rows}");
            rows++;
        }
        Assert.AreEqual(images.Length, rows);
    }

    [TestMethod]
    public void AWrongDestinationSizeIsExplained()
    {
        using var image = MLImage.CreateFromPixels(4, 2, MLPixelFormat.Bgra32, new byte[4 * 2 * 4]);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => PlanarPixels.Write(image, 3, new float[10]));
        StringAssert.StartsWith(ex.Message, "The destination holds 10 values; a 4×2 image with 3 channel(s) needs 24.");
    }
}
