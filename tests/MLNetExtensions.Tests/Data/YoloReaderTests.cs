using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Yolo;

namespace MLNetExtensions.Tests.Data;

/// <summary>The reader against TestData/Yolo: a.jpg 64x48 (2 boxes), b.png 32x32 (1 box, a blank line), c.png 20x10 (no label file).</summary>
[TestClass]
public sealed class YoloReaderTests
{
    [TestMethod]
    public void ConvertsNormalisedCentresToPixelCornersWithClassesTxt()
    {
        var ds = YoloReader.Read(TempFolder.Fixture("Yolo/images"), TempFolder.Fixture("Yolo/labels"));
        CollectionAssert.AreEqual(new[] { "cat", "dog", "bird" }, ds.ClassNames.ToArray());
        Assert.AreEqual(3, ds.Records.Count);
        CollectionAssert.AreEqual(new[] { "a.jpg", "b.png", "c.png" }, ds.Records.Select(r => Path.GetFileName(r.ImagePath)).ToArray());
        // "0 0.5 0.5 0.25 0.5" on 64x48: centre (32, 24), size 16x24. "1 0.125 0.25 0.25 0.5": centre (8, 12), size 16x24.
        CollectionAssert.AreEqual(new[] { new BoundingBox(24, 12, 40, 36), new BoundingBox(0, 0, 16, 24) }, ds.Records[0].Boxes.ToArray());
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, ds.Records[0].Labels.ToArray());
        CollectionAssert.AreEqual(new[] { new BoundingBox(0, 0, 32, 32) }, ds.Records[1].Boxes.ToArray());
        CollectionAssert.AreEqual(new[] { "bird" }, ds.Records[1].Labels.ToArray());
        Assert.AreEqual(0, ds.Records[2].Boxes.Count, "an image without a label file has no objects");
        Assert.AreEqual(0, ds.Warnings.Count);
    }

    [TestMethod]
    public void LoadsIntoTheDetectionSchema()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromYolo(TempFolder.Fixture("Yolo/images"), TempFolder.Fixture("Yolo/labels"), ["cat", "dog", "bird", "fish"]);
        CollectionAssert.AreEqual(new[] { "cat", "dog", "bird", "fish" }, DetectionDataView.GetClassNames(data.Schema, DetectionColumns.Labels));
        var labels = data.GetColumn<VBuffer<uint>>(DetectionColumns.Labels).Select(v => v.DenseValues().ToArray()).ToList();
        CollectionAssert.AreEqual(new uint[] { 1, 2 }, labels[0]);
        CollectionAssert.AreEqual(new uint[] { 3 }, labels[1]);
        Assert.AreEqual(0, labels[2].Length);
    }

    [TestMethod]
    [DataRow("names: ['cat', \"dog\", bird]  # three\nnc: 3\n")]
    [DataRow("path: ../datasets\nnames:\n  - cat\n  - dog   # a comment\n  - 'bird'\ntrain: images/train\n")]
    [DataRow("names:\n  0: cat\n  2: bird\n  1: dog\nnc: 3\n")]
    [DataRow("nc: 3\nnames: [cat,\n  dog, bird]\n")]
    public void ReadsTheNamesOfAnUltralyticsDataYaml(string yaml)
    {
        using var root = new TempFolder("Yolo");
        File.Delete(root["labels/classes.txt"]);
        File.WriteAllText(root["data.yaml"], yaml);
        var ds = YoloReader.Read(root["images"], root["labels"]);
        CollectionAssert.AreEqual(new[] { "cat", "dog", "bird" }, ds.ClassNames.ToArray());
    }

    [TestMethod]
    [DataRow("nc: 3\n", "has no top-level 'names:' entry")]
    [DataRow("names:\n  0: cat\n  2: bird\n", "names: has indices 0, 2; they must be 0 to 1 without gaps")]
    [DataRow("names: [cat, dog, cat]\n", "Class name 'cat' appears twice (positions 0 and 2).")]
    [DataRow("names: [cat, dog\n", "line 1: the names list opened with '[' is never closed with ']'")]
    [DataRow("names:\n  cat\n", "line 2: 'cat' is neither '- name' nor 'index: name' under names:")]
    public void BadDataYamlNamesTheFileAndTheProblem(string yaml, string problem)
    {
        using var root = new TempFolder("Yolo");
        File.Delete(root["labels/classes.txt"]);
        File.WriteAllText(root["data.yaml"], yaml);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => YoloReader.Read(root["images"], root["labels"]));
        StringAssert.StartsWith(e.Message, $"'{root["data.yaml"]}'");
        StringAssert.Contains(e.Message, problem);
    }

    [TestMethod]
    public void MissingClassNamesListsWhereItLooked()
    {
        using var root = new TempFolder("Yolo");
        File.Delete(root["labels/classes.txt"]);
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => YoloReader.Read(root["images"], root["labels"]));
        StringAssert.StartsWith(e.Message, $"No class names given and no class-name file found for the labels in '{root["labels"]}'. Looked for: {root["labels/classes.txt"]}, {root["labels/obj.names"]}");
        StringAssert.Contains(e.Message, root["data.yaml"]);
        StringAssert.Contains(e.Message, "Pass the class names, or set YoloOptions.ClassNamesFile");
    }

    [TestMethod]
    public void ClassIndexOutOfRangeThrowsOrIsSkipped()
    {
        using var root = new TempFolder("Yolo");
        File.WriteAllText(root["labels/a.txt"], "0 0.5 0.5 0.25 0.5\n\n3 0.5 0.5 0.1 0.1\n");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => YoloReader.Read(root["images"], root["labels"]));
        Assert.AreEqual($"'{root["labels/a.txt"]}' line 3 (\"3 0.5 0.5 0.1 0.1\"): class index 3 is out of range: there are 3 classes (0 to 2: cat, dog, bird). " +
                        "Fix the class index or the class list, or set YoloOptions.InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out.", e.Message);

        var ds = YoloReader.Read(root["images"], root["labels"], new YoloOptions { InvalidBoxes = InvalidBoxHandling.SkipWithWarning });
        CollectionAssert.AreEqual(new[] { "cat" }, ds.Records[0].Labels.ToArray());
        Assert.AreEqual("Skipped: " + e.Message, ds.Warnings.Single());
    }

    [TestMethod]
    [DataRow("1 1.2 0.5 0.1 0.1", "has values outside [0, 1]; YOLO labels are normalised by the image width and height.")]
    [DataRow("1 0.5 0.5 0.1 -0.1", "has values outside [0, 1]")]
    [DataRow("1 0.5 0.5 0 0.1", "has zero width or height.")]
    [DataRow("-1 0.5 0.5 0.1 0.1", "class index -1 is out of range")]
    public void InvalidBoxValuesThrowOrAreSkipped(string line, string problem)
    {
        using var root = new TempFolder("Yolo");
        File.WriteAllText(root["labels/b.txt"], line + "\n");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => YoloReader.Read(root["images"], root["labels"]));
        StringAssert.StartsWith(e.Message, $"'{root["labels/b.txt"]}' line 1 (\"{line}\"): {problem}");
        var ds = YoloReader.Read(root["images"], root["labels"], new YoloOptions { InvalidBoxes = InvalidBoxHandling.SkipWithWarning });
        Assert.AreEqual(0, ds.Records[1].Boxes.Count);
        Assert.AreEqual(1, ds.Warnings.Count);
    }

    [TestMethod]
    [DataRow("0 0.5 0.5 0.25", "4 values instead of 5")]
    [DataRow("cat 0.5 0.5 0.25 0.5", "the class index 'cat' is not an integer")]
    [DataRow("0 0.5 0,5 0.25 0.5", "'0,5' is not a number")]
    [DataRow("0 0.1 0.1 0.9 0.1 0.5 0.9", "7 values; this looks like a polygon (segment) label, which this reader does not read")]
    public void MalformedLinesAlwaysThrowWithTheLineNumber(string line, string problem)
    {
        using var root = new TempFolder("Yolo");
        File.WriteAllText(root["labels/a.txt"], "0 0.5 0.5 0.25 0.5\n" + line + "\n");
        foreach (var handling in new[] { InvalidBoxHandling.Throw, InvalidBoxHandling.SkipWithWarning })
        {
            var e = Assert.ThrowsExactly<InvalidDataException>(() => YoloReader.Read(root["images"], root["labels"], new YoloOptions { InvalidBoxes = handling }));
            Assert.AreEqual($"'{root["labels/a.txt"]}' line 2 (\"{line}\"): {problem}. Each line must be 'class cx cy w h': an integer class index and four numbers in [0, 1]. Fix the line.", e.Message);
        }
    }

    [TestMethod]
    public void BoxesReachingPastTheBorderAreClipped()
    {
        using var root = new TempFolder("Yolo");
        File.WriteAllText(root["labels/b.txt"], "0 0.95 0.5 0.2 0.25\n"); // x from 0.85 to 1.05 of 32 px
        var box = YoloReader.Read(root["images"], root["labels"]).Records[1].Boxes.Single();
        Assert.AreEqual(0.85f * 32, box.XMin, 1e-4);
        Assert.AreEqual(32f, box.XMax);
        Assert.AreEqual(12f, box.YMin, 1e-4);
        Assert.AreEqual(20f, box.YMax, 1e-4);
    }

    [TestMethod]
    public void LabelFilesWithoutImageAreReportedAndClassesFileIsRead()
    {
        using var root = new TempFolder("Yolo");
        File.WriteAllText(root["labels/zz.txt"], "0 0.5 0.5 0.1 0.1\n");
        File.WriteAllText(root["names.txt"], "a\n\nb\nc\n");
        var ds = YoloReader.Read(root["images"], root["labels"], new YoloOptions { ClassNamesFile = root["names.txt"] });
        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, ds.ClassNames.ToArray());
        Assert.AreEqual($"1 label file(s) in '{root["labels"]}' have no image in '{root["images"]}' and were not read, e.g. '{root["labels/zz.txt"]}'.", ds.Warnings.Single());
    }

    [TestMethod]
    public void MissingFoldersAreErrors()
    {
        var e = Assert.ThrowsExactly<DirectoryNotFoundException>(() => YoloReader.Read(TempFolder.Fixture("Yolo/nope"), TempFolder.Fixture("Yolo/labels")));
        Assert.AreEqual($"Images folder '{TempFolder.Fixture("Yolo/nope")}' not found.", e.Message);
        using var empty = new TempFolder();
        var e2 = Assert.ThrowsExactly<InvalidDataException>(() => YoloReader.Read(empty.Path, TempFolder.Fixture("Yolo/labels")));
        StringAssert.StartsWith(e2.Message, $"No images (.jpg, .jpeg, .png, .bmp, .gif, .webp) in '{empty.Path}'.");
    }
}
