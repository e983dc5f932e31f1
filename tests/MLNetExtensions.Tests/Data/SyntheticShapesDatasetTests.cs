using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;

namespace MLNetExtensions.Tests.Data;

[TestClass]
public sealed class SyntheticShapesDatasetTests
{
    private static readonly SyntheticShapesOptions Small = new() { ImageSize = 64, TrainImages = 12, ValidationImages = 4, TestImages = 3, Seed = 7 };

    [TestMethod]
    public void SameSeedGivesIdenticalBytesAndAnotherSeedDoesNot()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        using var c = new TempFolder();
        SyntheticShapesDataset.Write(a.Path, Small);
        SyntheticShapesDataset.Write(b.Path, Small);
        SyntheticShapesDataset.Write(c.Path, new SyntheticShapesOptions { ImageSize = 64, TrainImages = 12, ValidationImages = 4, TestImages = 3, Seed = 8 });
        var files = Directory.GetFiles(a.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a.Path, f)).Order().ToList();
        Assert.AreEqual(19 * 3 + 8, files.Count); // image, mask, xml per image; 4 lists each for Main and Segmentation
        CollectionAssert.AreEqual(files, Directory.GetFiles(b.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b.Path, f)).Order().ToList());
        foreach (var f in files)
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(a.Path, f)), File.ReadAllBytes(Path.Combine(b.Path, f)), f);
        Assert.IsFalse(File.ReadAllBytes(a["JPEGImages/train_00000.png"]).SequenceEqual(File.ReadAllBytes(c["JPEGImages/train_00000.png"])));
    }

    [TestMethod]
    public void ImagesDoNotDependOnTheOtherSplitsSizes()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        SyntheticShapesDataset.Write(a.Path, Small);
        SyntheticShapesDataset.Write(b.Path, new SyntheticShapesOptions { ImageSize = 64, TrainImages = 2, ValidationImages = 1, TestImages = 1, Seed = 7 });
        // The detection quickstart trains on more images than the built-in 2000 and is scored on the built-in test split.
        foreach (var file in new[] { "JPEGImages/val_00000.png", "JPEGImages/test_00000.png", "Annotations/test_00000.xml" })
            CollectionAssert.AreEqual(File.ReadAllBytes(a[file]), File.ReadAllBytes(b[file]), file);
    }

    [TestMethod]
    public void ReadsBackThroughTheVocReadersWithBoxesInsideAndMasksThatAgree()
    {
        using var dir = new TempFolder();
        var options = new SyntheticShapesOptions { ImageSize = 96, TrainImages = 40, ValidationImages = 0, TestImages = 0, Seed = 3, MaxObjectsPerImage = 6 };
        SyntheticShapesDataset.Write(dir.Path, options);
        var ds = PascalVocReader.ReadDetection(dir.Path, "train", new PascalVocOptions { ClassNames = options.ClassNames });
        var seg = PascalVocReader.ReadSegmentation(dir.Path, "train");
        Assert.AreEqual(40, ds.Records.Count);
        Assert.AreEqual(40, seg.Count);
        int objects = 0, difficult = 0;
        var kinds = new HashSet<string>();
        for (int r = 0; r < ds.Records.Count; r++)
        {
            var record = ds.Records[r];
            Assert.AreEqual(record.ImagePath, seg[r].ImagePath);
            Assert.IsTrue(record.Boxes.Count is >= 1 and <= 6, $"{record.ImagePath}: {record.Boxes.Count} objects");
            var mask = SegmentationMask.CreateFromFile(seg[r].MaskPath);
            Assert.AreEqual((96, 96), (mask.Width, mask.Height));
            using (var image = MLImage.CreateFromFile(record.ImagePath))
                Assert.AreEqual((96, 96), (image.Width, image.Height));

            for (int i = 0; i < record.Boxes.Count; i++)
            {
                var b = record.Boxes[i];
                Assert.IsTrue(b.XMin >= 0 && b.YMin >= 0 && b.XMax <= 96 && b.YMax <= 96 && b.Width >= 1 && b.Height >= 1, $"{record.ImagePath}: box {b}");
                byte cls = (byte)(options.ClassNames.ToList().IndexOf(record.Labels[i]) + 1);
                Assert.IsTrue(Pixels(mask, b).Any(p => p == cls), $"{record.ImagePath}: no '{record.Labels[i]}' pixel inside its box {b}");
                objects++;
                if (record.Difficult[i]) difficult++;
                kinds.Add(record.Labels[i]);
            }
            // Every class pixel lies inside a box of its class (boxes bound the visible pixels).
            for (int y = 0; y < 96; y++)
                for (int x = 0; x < 96; x++)
                {
                    byte v = mask[x, y];
                    if (v is 0 or 255) continue;
                    string name = options.ClassNames[v - 1];
                    Assert.IsTrue(Enumerable.Range(0, record.Boxes.Count).Any(i => record.Labels[i] == name && Inside(record.Boxes[i], x, y)),
                        $"{seg[r].MaskPath}: pixel ({x}, {y}) of class {name} is outside every {name} box");
                }
        }
        Assert.AreEqual(5, kinds.Count, "all five shapes occur");
        Assert.IsTrue(difficult > 0 && difficult < objects / 2, $"{difficult} of {objects} objects difficult");
    }

    [TestMethod]
    public void MasksHaveAVoidBandBetweenDifferentLabels()
    {
        using var dir = new TempFolder();
        SyntheticShapesDataset.Write(dir.Path, Small);
        int voidPixels = 0;
        foreach (var path in Directory.GetFiles(dir["SegmentationClass"]))
        {
            var mask = SegmentationMask.CreateFromFile(path);
            for (int y = 0; y < mask.Height; y++)
                for (int x = 0; x < mask.Width; x++)
                {
                    byte v = mask[x, y];
                    if (v == 255) { voidPixels++; continue; }
                    // No two touching pixels carry different labels: a border between object and background (or two
                    // objects) is always void on both sides.
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int nx = x + dx, ny = y + dy;
                            if (nx < 0 || ny < 0 || nx >= mask.Width || ny >= mask.Height) continue;
                            byte n = mask[nx, ny];
                            Assert.IsTrue(n == 255 || n == v, $"{path}: ({x}, {y}) = {v} touches ({nx}, {ny}) = {n}");
                        }
                }
            Assert.IsTrue(mask.Pixels.Contains((byte)255), $"{path} has no void band");
        }
        Assert.IsTrue(voidPixels > 0);
    }

    [TestMethod]
    public void EnsureWritesOnceAndRegeneratesWhenOptionsChange()
    {
        using var dir = new TempFolder();
        var root = dir["shapes"];
        Assert.AreEqual(root, SyntheticShapesDataset.Ensure(root, Small));
        var marker = Path.Combine(root, SyntheticShapesDataset.MarkerFileName);
        var written = File.GetLastWriteTimeUtc(marker);
        var image = Path.Combine(root, "JPEGImages/train_00000.png");
        File.SetLastWriteTimeUtc(image, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        SyntheticShapesDataset.Ensure(root, Small);
        Assert.AreEqual(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(image), "second call wrote nothing");
        Assert.AreEqual(written, File.GetLastWriteTimeUtc(marker));

        var bigger = new SyntheticShapesOptions { ImageSize = 64, TrainImages = 13, ValidationImages = 4, TestImages = 3, Seed = 7 };
        SyntheticShapesDataset.Ensure(root, bigger);
        Assert.AreEqual(13, File.ReadAllLines(Path.Combine(root, "ImageSets/Main/train.txt")).Length);
        Assert.AreNotEqual(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(image));
        Assert.IsEmpty(Directory.GetDirectories(dir.Path).Where(d => d.Contains(".partial-")).ToList(), "staging folders are cleaned up");
    }

    [TestMethod]
    public void EnsureLeavesAFolderWithOtherFilesAlone()
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir["mine.txt"], "user data");
        var e = Assert.ThrowsExactly<IOException>(() => SyntheticShapesDataset.Ensure(dir.Path, Small));
        Assert.AreEqual($"'{dir.Path}' is not empty and holds no synthetic dataset (no .synthetic-shapes file), so it is left alone. Give an empty or new folder.", e.Message);
        Assert.IsTrue(File.Exists(dir["mine.txt"]));
    }

    [TestMethod]
    public void BuiltInDatasetLoadsForDetectionAndSegmentation()
    {
        var root = SharedDatasets.SyntheticShapes;
        Assert.AreEqual(SharedDatasets.SyntheticShapes, root, "a second call finds the same dataset");
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromPascalVoc(root, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        Assert.AreEqual(2000, train.GetColumn<string>(DetectionColumns.ImagePath).Count());
        CollectionAssert.AreEqual(new[] { "circle", "square", "triangle", "star", "cross" }, DetectionDataView.GetClassNames(train.Schema, DetectionColumns.Labels));
        Assert.AreEqual(64, ml.Data.LoadFromPascalVoc(root, "val", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames })
            .GetColumn<VBuffer<float>>(DetectionColumns.Boxes).Count());
        Assert.AreEqual(64, ml.Data.LoadFromPascalVocSegmentation(root, "test").GetColumn<string>(SegmentationColumns.MaskPath).Count());
        Assert.AreEqual(2064, File.ReadAllLines(Path.Combine(root, "ImageSets/Main/trainval.txt")).Length);
    }

    [TestMethod]
    public void OptionsAreValidatedWhenSet()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SyntheticShapesOptions { ImageSize = 16 });
        StringAssert.Contains(e.Message, "ImageSize must be between 32 and 2048.");
        Assert.ThrowsExactly<ArgumentException>(() => new SyntheticShapesOptions { Shapes = [] });
        Assert.ThrowsExactly<ArgumentException>(() => new SyntheticShapesOptions { Shapes = [ShapeKind.Star, ShapeKind.Star] });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new SyntheticShapesOptions { MaxObjectsPerImage = 0 });
        var tooBig = Assert.ThrowsExactly<ArgumentException>(() => SyntheticShapesDataset.Write(Path.GetTempPath(), new SyntheticShapesOptions { ImageSize = 32, MinObjectSize = 30 }));
        StringAssert.Contains(tooBig.Message, "MinObjectSize 30 is larger than the largest object");
        CollectionAssert.AreEqual(new[] { "star", "circle" }, new SyntheticShapesOptions { Shapes = [ShapeKind.Star, ShapeKind.Circle] }.ClassNames.ToArray());
    }

    [TestMethod]
    public void ShapesCoverTheAreaTheirGeometrySays()
    {
        // R = 40: circle πR², square 2R², triangle (3√3/4)R², cross arms 0.95R long and 0.3R half-wide,
        // star with inner radius 0.45R: 5·R·0.45R·sin 36°.
        var expected = new Dictionary<ShapeKind, double>
        {
            [ShapeKind.Circle] = Math.PI * 1600,
            [ShapeKind.Square] = 2 * 1600,
            [ShapeKind.Triangle] = 3 * Math.Sqrt(3) / 4 * 1600,
            [ShapeKind.Cross] = 2 * (1.9 * 0.6 * 1600) - 0.6 * 0.6 * 1600,
            [ShapeKind.Star] = 5 * 0.45 * 1600 * Math.Sin(Math.PI / 5),
        };
        foreach (var (kind, area) in expected)
        {
            var shape = new ShapeGeometry(kind, 50, 50, 40, rotation: 0.3);
            var pixels = shape.Rasterize(100, 100);
            Assert.AreEqual(area, pixels.Count, area * 0.03, kind.ToString());
            Assert.IsTrue(shape.Contains(50, 50), kind + " contains its centre");
            Assert.IsTrue(pixels.All(p => Math.Pow(p % 100 + 0.5 - 50, 2) + Math.Pow(p / 100 + 0.5 - 50, 2) <= 40.0 * 40), kind + " stays in its circle");
        }
    }

    private static IEnumerable<byte> Pixels(SegmentationMask mask, BoundingBox b)
    {
        for (int y = (int)b.YMin; y < (int)b.YMax; y++)
            for (int x = (int)b.XMin; x < (int)b.XMax; x++)
                yield return mask[x, y];
    }

    private static bool Inside(BoundingBox b, int x, int y) => x >= b.XMin && x + 1 <= b.XMax && y >= b.YMin && y + 1 <= b.YMax;
}
