using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Voc;

namespace MLNetExtensions.Tests.Data;

/// <summary>The reader against TestData/Voc (3 images; see the XML there) and mutated copies of it, one per bad input.</summary>
[TestClass]
public sealed class PascalVocReaderTests
{
    private static readonly PascalVocOptions Skip = new() { InvalidBoxes = InvalidBoxHandling.SkipWithWarning };

    [TestMethod]
    public void ReadsBoxesAsContinuousCoordinatesWithDifficultFlags()
    {
        var ds = PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "train");
        Assert.AreEqual(2, ds.Records.Count);
        CollectionAssert.AreEqual(PascalVocClasses.Detection.ToArray(), ds.ClassNames.ToArray());
        Assert.AreEqual(0, ds.Warnings.Count);

        var first = ds.Records[0];
        Assert.AreEqual(Path.GetFullPath(TempFolder.Fixture("Voc/JPEGImages/000001.jpg")), first.ImagePath);
        // VOC (1, 1, 20, 16) covers pixels 0..19 x 0..15: [0, 0, 20, 16]. (10, 5, 48, 32) touches the 48x32 border.
        CollectionAssert.AreEqual(new[] { new BoundingBox(0, 0, 20, 16), new BoundingBox(9, 4, 48, 32) }, first.Boxes.ToArray());
        CollectionAssert.AreEqual(new[] { "dog", "person" }, first.Labels.ToArray());
        CollectionAssert.AreEqual(new[] { false, true }, first.Difficult.ToArray());

        // 000002.xml has no <size>: the 40x30 comes from the PNG header, and the box reaching (40, 30) is inside.
        Assert.AreEqual(Path.GetFullPath(TempFolder.Fixture("Voc/JPEGImages/000002.png")), ds.Records[1].ImagePath);
        CollectionAssert.AreEqual(new[] { new BoundingBox(4, 5, 40, 30) }, ds.Records[1].Boxes.ToArray());
    }

    [TestMethod]
    public void ReadsFractionalCoordinates()
    {
        var ds = PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "val");
        CollectionAssert.AreEqual(new[] { new BoundingBox(1.5f, 2, 30, 20.5f) }, ds.Records[0].Boxes.ToArray());
    }

    [TestMethod]
    public void LoadsIntoTheDetectionSchemaWithVocClassKeys()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromPascalVoc(TempFolder.Fixture("Voc"), "train");
        CollectionAssert.AreEqual(PascalVocClasses.Detection.ToArray(), DetectionDataView.GetClassNames(data.Schema, DetectionColumns.Labels));
        var labels = data.GetColumn<VBuffer<uint>>(DetectionColumns.Labels).Select(v => v.DenseValues().ToArray()).ToList();
        CollectionAssert.AreEqual(new uint[] { 12, 15 }, labels[0]); // dog, person: 1-based positions in the VOC list
        CollectionAssert.AreEqual(new uint[] { 8 }, labels[1]);      // cat
        var boxes = data.GetColumn<VBuffer<float>>(DetectionColumns.Boxes).First().DenseValues().ToArray();
        CollectionAssert.AreEqual(new float[] { 0, 0, 20, 16, 9, 4, 48, 32 }, boxes);
    }

    [TestMethod]
    public void DiscoversClassesSortedAndHonoursAGivenList()
    {
        var found = PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "train", new PascalVocOptions { DiscoverClasses = true });
        CollectionAssert.AreEqual(new[] { "cat", "dog", "person" }, found.ClassNames.ToArray());

        var given = PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "train", new PascalVocOptions { ClassNames = ["person", "dog", "cat"] });
        CollectionAssert.AreEqual(new[] { "person", "dog", "cat" }, given.ClassNames.ToArray());

        var e = Assert.ThrowsExactly<ArgumentException>(() => PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "train",
            new PascalVocOptions { ClassNames = ["cat"], DiscoverClasses = true }));
        StringAssert.Contains(e.Message, "Set either PascalVocOptions.ClassNames or DiscoverClasses, not both.");
        var dup = Assert.ThrowsExactly<ArgumentException>(() => new PascalVocOptions { ClassNames = ["cat", "dog", "cat"] });
        StringAssert.Contains(dup.Message, "Class name 'cat' appears twice (positions 0 and 2).");
    }

    [TestMethod]
    public void CanLeaveDifficultObjectsOut()
    {
        var ds = PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "train", new PascalVocOptions { IncludeDifficult = false });
        CollectionAssert.AreEqual(new[] { "dog" }, ds.Records[0].Labels.ToArray());
    }

    [TestMethod]
    public void MissingImageNamesTheFileAndTheList()
    {
        using var voc = new TempFolder("Voc");
        File.Delete(voc["JPEGImages/000002.png"]);
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        Assert.AreEqual($"Image '{voc["JPEGImages/000002.jpg"]}' not found (nor with .jpeg, .png, .bmp, nor '000002.png' (the <filename> of the annotation)); " +
                        $"it is needed by '{voc["Annotations/000002.xml"]}'. Add the image or remove '000002' from the image set list.", e.Message);
    }

    [TestMethod]
    public void FindsTheImageNamedByTheAnnotation()
    {
        using var voc = new TempFolder("Voc");
        File.Move(voc["JPEGImages/000002.png"], voc["JPEGImages/renamed.png"]);
        File.WriteAllText(voc["Annotations/000002.xml"], File.ReadAllText(voc["Annotations/000002.xml"]).Replace("000002.png", "renamed.png"));
        var ds = PascalVocReader.ReadDetection(voc.Path, "train");
        Assert.AreEqual(voc["JPEGImages/renamed.png"], ds.Records[1].ImagePath);
    }

    [TestMethod]
    public void MissingAnnotationNamesTheFileAndTheList()
    {
        using var voc = new TempFolder("Voc");
        File.Delete(voc["Annotations/000002.xml"]);
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        Assert.AreEqual($"Annotation '{voc["Annotations/000002.xml"]}' not found; '000002' is listed in '{voc["ImageSets/Main/train.txt"]}'. " +
                        "Add the annotation or remove the id from the list.", e.Message);
    }

    [TestMethod]
    public void MissingImageSetListsTheAvailableOnes()
    {
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PascalVocReader.ReadDetection(TempFolder.Fixture("Voc"), "trainval"));
        Assert.AreEqual($"Image set list '{Path.GetFullPath(TempFolder.Fixture("Voc/ImageSets/Main/trainval.txt"))}' not found (image sets there: train, val). " +
                        "Check the image set name and the VOC folder.", e.Message);
        var d = Assert.ThrowsExactly<DirectoryNotFoundException>(() => PascalVocReader.ReadDetection(TempFolder.Fixture("NoSuchVoc"), "train"));
        StringAssert.Contains(d.Message, "NoSuchVoc' not found. Give the folder that holds ImageSets/, Annotations/ and JPEGImages/");
    }

    [TestMethod]
    public void MalformedXmlNamesTheFileAndLine()
    {
        using var voc = new TempFolder("Voc");
        File.WriteAllText(voc["Annotations/000002.xml"], "<annotation>\n<object><name>cat</name>\n</annotation>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.StartsWith(e.Message, $"'{voc["Annotations/000002.xml"]}' is not a readable annotation: ");
        StringAssert.Contains(e.Message, "Line 3");
        StringAssert.Contains(e.Message, "Fix or re-export the file.");
    }

    [TestMethod]
    public void DtdAndExternalEntitiesAreRefused()
    {
        using var voc = new TempFolder("Voc");
        File.WriteAllText(voc["secret.txt"], "dog");
        File.WriteAllText(voc["Annotations/000002.xml"],
            "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [<!ENTITY x SYSTEM \"../secret.txt\">]>\n" +
            "<annotation><object><name>&x;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.StartsWith(e.Message, $"'{voc["Annotations/000002.xml"]}' is not a readable annotation: ");
        StringAssert.Contains(e.Message, "DTD is prohibited");
        StringAssert.Contains(e.Message, "document type declarations (DTDs) and entities are refused");
    }

    [TestMethod]
    [DataRow("<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox>", "object 0 ('cat') has no <bndbox><ymax>")]
    [DataRow("<bndbox><xmin>1</xmin><ymin>one</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>", "object 0 ('cat') has <ymin>one</ymin>, which is not a number")]
    [DataRow("", "object 0 ('cat') has no <bndbox>")]
    public void IncompleteObjectNamesTheFileTheObjectAndTheField(string bndbox, string problem)
    {
        using var voc = new TempFolder("Voc");
        File.WriteAllText(voc["Annotations/000002.xml"], $"<annotation><object><name>cat</name>{bndbox}</object></annotation>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        Assert.AreEqual($"'{voc["Annotations/000002.xml"]}' is not a valid VOC annotation: {problem}. Fix or re-export the file.", e.Message);
    }

    [TestMethod]
    public void WrongRootElementIsAnError()
    {
        using var voc = new TempFolder("Voc");
        File.WriteAllText(voc["Annotations/000002.xml"], "<images/>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.Contains(e.Message, "the root element is <images>, not <annotation>");
    }

    [TestMethod]
    public void BoxOutsideTheImageThrowsOrIsSkipped()
    {
        using var voc = new TempFolder("Voc");
        ReplaceBox(voc, "000001", "<xmax>20</xmax>", "<xmax>49</xmax>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        Assert.AreEqual($"'{voc["Annotations/000001.xml"]}': object 0 ('dog', box xmin=1, ymin=1, xmax=49, ymax=16) lies outside the 48x32 image " +
                        "(VOC boxes run from 1 to the width/height). Fix the annotation, or set PascalVocOptions.InvalidBoxes = " +
                        "InvalidBoxHandling.SkipWithWarning to leave such boxes out.", e.Message);

        var ds = PascalVocReader.ReadDetection(voc.Path, "train", Skip);
        CollectionAssert.AreEqual(new[] { "person" }, ds.Records[0].Labels.ToArray());
        Assert.AreEqual(1, ds.Warnings.Count);
        Assert.AreEqual("Skipped: " + e.Message, ds.Warnings[0]);
    }

    [TestMethod]
    public void BoxOutsideTheImageHeaderSizeWhenXmlHasNoSize()
    {
        using var voc = new TempFolder("Voc");
        ReplaceBox(voc, "000002", "<ymax>30</ymax>", "<ymax>31</ymax>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.Contains(e.Message, $"'{voc["Annotations/000002.xml"]}': object 0 ('cat', box xmin=5, ymin=6, xmax=40, ymax=31) lies outside the 40x30 image");
    }

    [TestMethod]
    public void ZeroOrNegativeSizeBoxThrowsOrIsSkipped()
    {
        using var voc = new TempFolder("Voc");
        ReplaceBox(voc, "000001", "<xmin>10</xmin>", "<xmin>49</xmin>"); // person: xmin 49 > xmax 48
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.StartsWith(e.Message, $"'{voc["Annotations/000001.xml"]}': object 1 ('person', box xmin=49, ymin=5, xmax=48, ymax=32) has zero or negative size");
        var ds = PascalVocReader.ReadDetection(voc.Path, "train", Skip);
        CollectionAssert.AreEqual(new[] { "dog" }, ds.Records[0].Labels.ToArray());
        StringAssert.Contains(ds.Warnings.Single(), "object 1 ('person'");

        // xmin == xmax is one pixel wide in VOC's inclusive indices: valid.
        ReplaceBox(voc, "000001", "<xmin>49</xmin>", "<xmin>48</xmin>");
        CollectionAssert.Contains(PascalVocReader.ReadDetection(voc.Path, "train").Records[0].Boxes.ToArray(), new BoundingBox(47, 4, 48, 32));
    }

    [TestMethod]
    public void UnknownClassThrowsOrIsSkippedAndIsLogged()
    {
        using var voc = new TempFolder("Voc");
        ReplaceBox(voc, "000002", "<name>cat</name>", "<name>zebra</name>");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadDetection(voc.Path, "train"));
        StringAssert.StartsWith(e.Message, $"'{voc["Annotations/000002.xml"]}': object 0 ('zebra', box xmin=5, ymin=6, xmax=40, ymax=30) has the class 'zebra', which is not in the class list (aeroplane, bicycle,");
        StringAssert.Contains(e.Message, "Add it to PascalVocOptions.ClassNames (or set DiscoverClasses = true), or set PascalVocOptions.InvalidBoxes");

        var ml = new MLContext(seed: 1);
        var logged = new List<string>();
        ml.Log += (_, args) => { if (args.Kind == ChannelMessageKind.Warning) logged.Add(args.RawMessage); };
        var data = ml.Data.LoadFromPascalVoc(voc.Path, "train", Skip);
        Assert.AreEqual(2, data.GetColumn<string>(DetectionColumns.ImagePath).Count());
        Assert.AreEqual(1, logged.Count);
        Assert.AreEqual("Skipped: " + e.Message, logged[0]);
        Assert.AreEqual(0, data.GetColumn<VBuffer<float>>(DetectionColumns.Boxes).Last().Length);
    }

    [TestMethod]
    public void ReadsSegmentationPairs()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromPascalVocSegmentation(TempFolder.Fixture("Voc"), "train");
        var images = data.GetColumn<string>(SegmentationColumns.ImagePath).ToArray();
        var masks = data.GetColumn<string>(SegmentationColumns.MaskPath).ToArray();
        CollectionAssert.AreEqual(new[] { "000001.jpg", "000002.png" }, images.Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(new[] { "000001.png", "000002.png" }, masks.Select(Path.GetFileName).ToArray());
        var mask = MLNetExtensions.Data.Masks.SegmentationMask.CreateFromFile(masks[0]);
        Assert.AreEqual(12, mask[5, 5]);   // dog inside its box
        Assert.AreEqual(255, mask[0, 0]);  // the void border the fixture drew
        Assert.AreEqual(15, mask[30, 20]); // person
    }

    [TestMethod]
    public void MaskOfAnotherSizeThanItsImageIsAnError()
    {
        using var voc = new TempFolder("Voc");
        File.Copy(voc["SegmentationClass/000001.png"], voc["SegmentationClass/000002.png"], overwrite: true);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PascalVocReader.ReadSegmentation(voc.Path, "train"));
        Assert.AreEqual($"'{voc["SegmentationClass/000002.png"]}' is 48x32 but its image '{voc["JPEGImages/000002.png"]}' is 40x30. " +
                        "A mask must have its image's size; re-export the mask at the image's size.", e.Message);
        Assert.AreEqual(2, PascalVocReader.ReadSegmentation(voc.Path, "train", new PascalVocSegmentationOptions { CheckSizes = false }).Count);
    }

    [TestMethod]
    public void MissingMaskNamesTheFileAndTheList()
    {
        using var voc = new TempFolder("Voc");
        File.Delete(voc["SegmentationClass/000002.png"]);
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => PascalVocReader.ReadSegmentation(voc.Path, "train"));
        Assert.AreEqual($"Mask '{voc["SegmentationClass/000002.png"]}' not found; '000002' is listed in '{voc["ImageSets/Segmentation/train.txt"]}'. " +
                        "Add the mask or remove the id from the list.", e.Message);
    }

    private static void ReplaceBox(TempFolder voc, string id, string from, string to)
    {
        var path = voc[$"Annotations/{id}.xml"];
        var text = File.ReadAllText(path);
        StringAssert.Contains(text, from);
        File.WriteAllText(path, text.Replace(from, to));
    }
}
