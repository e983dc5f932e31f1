using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Tests.Transforms;

/// <summary>PerImageStandardization and ScaleToMinusOneOne through real pipelines: LoadImages → ResizeImages → ExtractPixels → transform.</summary>
[TestClass]
public sealed class PixelScalingTransformsTests
{
    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class VectorRow
    {
        [VectorType(3)] public float[] Pixels { get; set; } = [];
        [VectorType(3)] public byte[] Bytes { get; set; } = [];
    }

    private static (MLContext ml, IDataView data, IEstimator<ITransformer> pixels, TempImages images) TwoPixelImage()
    {
        var images = new TempImages();
        // Pixel 0 = (R 10, G 20, B 30), pixel 1 = (R 40, G 50, B 60). ExtractPixels' default order is planar R, G, B:
        // [10, 40, 20, 50, 30, 60].
        images.Write("two.png", 2, 1, (x, _) => x == 0 ? ((byte)10, (byte)20, (byte)30) : ((byte)40, (byte)50, (byte)60));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable([new PathRow { ImagePath = "two.png" }]);
        var pixels = ml.Transforms.LoadImages("Image", images.Folder, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", 2, 1, "Image"))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"));
        return (ml, data, pixels, images);
    }

    [TestMethod]
    public void PerImageStandardizationGivesHandComputedValuesAndKeepsTheVectorSize()
    {
        var (ml, data, pixels, images) = TwoPixelImage();
        using var cleanup = images;
        var model = pixels.Append(ml.Transforms.PerImageStandardization("Standardized", "Pixels")).Fit(data);
        var output = model.Transform(data);
        // mean 35, population stddev √(1750/6) = 17.0782513; (x - 35) / 17.0782513.
        Read.AreClose([-1.4638501f, 0.2927700f, -0.8783101f, 0.8783101f, -0.2927700f, 1.4638501f],
            Read.Column<float[]>(output, "Standardized")[0], 1e-5f, "standardized");
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 6), output.Schema["Standardized"].Type, "the known size of ExtractPixels' output is kept");
        Assert.IsFalse(output.Schema.Any(c => c.Name.StartsWith("__MLNetExtensions")), "temporary columns are dropped");
    }

    [TestMethod]
    public void ScaleToMinusOneOneGivesHandComputedValues()
    {
        var (ml, data, pixels, images) = TwoPixelImage();
        using var cleanup = images;
        var output = pixels.Append(ml.Transforms.ScaleToMinusOneOne("Scaled", "Pixels")).Fit(data).Transform(data);
        // x / 127.5 - 1 for 10, 40, 20, 50, 30, 60.
        Read.AreClose([-0.92156863f, -0.68627451f, -0.84313725f, -0.60784314f, -0.76470588f, -0.52941176f],
            Read.Column<float[]>(output, "Scaled")[0], 1e-6f, "scaled");
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 6), output.Schema["Scaled"].Type);

        var ends = ml.Data.LoadFromEnumerable([new VectorRow { Pixels = [0, 255, 63.75f], Bytes = [0, 0, 0] }]);
        var scaled = ml.Transforms.ScaleToMinusOneOne(new ScaleToMinusOneOneEstimator.Options("Pixels")).Fit(ends).Transform(ends);
        CollectionAssert.AreEqual(new float[] { -1, 1, -0.5f }, Read.Column<float[]>(scaled, "Pixels")[0]);
    }

    [TestMethod]
    public void BothSurviveSaveAndLoadIntoAFreshContext()
    {
        var (ml, data, pixels, images) = TwoPixelImage();
        using var cleanup = images;
        var model = pixels
            .Append(ml.Transforms.PerImageStandardization("Standardized", "Pixels"))
            .Append(ml.Transforms.ScaleToMinusOneOne("Scaled", "Pixels"))
            .Fit(data);
        var expected = model.Transform(data);
        var path = Path.Combine(images.Folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);

        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(path, out _);
        var actual = loaded.Transform(data);
        foreach (var column in new[] { "Standardized", "Scaled" })
        {
            Assert.AreEqual(expected.Schema[column].Type, actual.Schema[column].Type, column + " keeps its known size after loading");
            CollectionAssert.AreEqual(Read.Column<float[]>(expected, column)[0], Read.Column<float[]>(actual, column)[0], column);
        }
    }

    [TestMethod]
    public void AMissingColumnFailsAtFitNamingIt()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable([new VectorRow { Pixels = [1, 2, 3], Bytes = [1, 2, 3] }]);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.PerImageStandardization("Out", "Pixelz").Fit(data));
        StringAssert.StartsWith(e.Message, "PerImageStandardization: input column 'Pixelz' (pixels) was not found; it must be a vector of Single");
        StringAssert.Contains(e.Message, "Columns: Pixels, Bytes.");
        // Schema propagation in a chain fails the same way, before anything runs.
        var chain = ml.Transforms.CopyColumns("Copy", "Pixels").Append(ml.Transforms.ScaleToMinusOneOne("Out", "Pixelz"));
        e = Assert.ThrowsExactly<ArgumentException>(() => chain.Fit(data));
        StringAssert.StartsWith(e.Message, "ScaleToMinusOneOne: input column 'Pixelz' (pixels) was not found");
    }

    [TestMethod]
    public void AWrongColumnTypeFailsAtFitNamingItAndTheExpectedType()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable([new VectorRow { Pixels = [1, 2, 3], Bytes = [1, 2, 3] }]);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ScaleToMinusOneOne("Out", "Bytes").Fit(data));
        Assert.AreEqual("ScaleToMinusOneOne: input column 'Bytes' (pixels) is Vector<Byte, known size>, but it must be a vector of Single (for example the output of ExtractPixels).", e.Message);
        e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.PerImageStandardization("Out", "Bytes").Fit(data));
        Assert.AreEqual("PerImageStandardization: input column 'Bytes' (pixels) is Vector<Byte, known size>, but it must be a vector of Single (for example the output of ExtractPixels).", e.Message);
    }
}
