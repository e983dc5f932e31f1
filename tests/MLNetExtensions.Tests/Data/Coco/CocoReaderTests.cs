using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Tests.Evaluation;

namespace MLNetExtensions.Tests.Data.Coco;

[TestClass]
public sealed class CocoReaderTests
{
    // Categories out of id order; image 5 has no annotations; annotation 12 is a crowd without 'area'.
    private const string Instances = """
        {
          "info": {"description": "test"},
          "images": [
            {"id": 9, "file_name": "b.jpg", "width": 100, "height": 80},
            {"id": 5, "file_name": "a.jpg", "width": 50, "height": 40}
          ],
          "annotations": [
            {"id": 11, "image_id": 9, "category_id": 3, "bbox": [10, 20, 30, 40], "area": 1000.5, "iscrowd": 0, "segmentation": [[10, 20, 40, 20, 40, 60]]},
            {"id": 12, "image_id": 9, "category_id": 1, "bbox": [0.5, 1.5, 20, 10], "iscrowd": 1, "segmentation": {"counts": [1, 2], "size": [80, 100]}}
          ],
          "categories": [{"id": 3, "name": "dog", "supercategory": "animal"}, {"id": 1, "name": "cat"}]
        }
        """;

    private static T[] Column<T>(IDataView data, string name) => data.GetColumn<T>(name).ToArray();

    private static float[][] Vectors(IDataView data, string name) => data.GetColumn<VBuffer<float>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    [TestMethod]
    public void InstancesBecomeOneDetectionRowPerImage()
    {
        using var folder = new ScratchFolder();
        string path = folder.File("instances.json", Instances);
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromCocoJson(path, "/images");

        CollectionAssert.AreEqual(new[] { "cat", "dog" }, DetectionDataView.GetClassNames(data.Schema, DetectionColumns.Labels));
        CollectionAssert.AreEqual(new[] { "/images/b.jpg", "/images/a.jpg" }, Column<string>(data, DetectionColumns.ImagePath));
        CollectionAssert.AreEqual(new long[] { 9, 5 }, Column<long>(data, CocoColumns.ImageId));
        var boxes = Vectors(data, DetectionColumns.Boxes);
        CollectionAssert.AreEqual(new float[] { 10, 20, 40, 60, 0.5f, 1.5f, 20.5f, 11.5f }, boxes[0]);
        Assert.AreEqual(0, boxes[1].Length);
        var labels = data.GetColumn<VBuffer<uint>>(data.Schema[DetectionColumns.Labels]).Select(v => v.DenseValues().ToArray()).ToArray();
        CollectionAssert.AreEqual(new uint[] { 2, 1 }, labels[0]);
        var crowd = data.GetColumn<VBuffer<bool>>(data.Schema[CocoColumns.IsCrowd]).Select(v => v.DenseValues().ToArray()).ToArray();
        CollectionAssert.AreEqual(new[] { false, true }, crowd[0]);
        var areas = Vectors(data, CocoColumns.Areas);
        CollectionAssert.AreEqual(new float[] { 1000.5f, 200f }, areas[0]); // the second has no 'area': w·h
        var records = DetectionDataView.ReadRecords(data);
        Assert.AreEqual(2, records.Count);
        CollectionAssert.AreEqual(new[] { false, false }, records[0].Difficult.ToArray());
    }

    [TestMethod]
    public void AddedColumnsStayWithTheirRowsThroughShufflingAndCaching()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(3);
        var data = ml.Data.LoadFromCocoJson(folder.File("i.json", Instances));
        foreach (var view in new[] { ml.Data.ShuffleRows(data, seed: 5), ml.Data.Cache(data) })
        {
            var ids = Column<long>(view, CocoColumns.ImageId);
            var paths = Column<string>(view, DetectionColumns.ImagePath);
            var areas = Vectors(view, CocoColumns.Areas);
            for (int i = 0; i < ids.Length; i++)
            {
                Assert.AreEqual(ids[i] == 9 ? "b.jpg" : "a.jpg", paths[i]);
                Assert.AreEqual(ids[i] == 9 ? 2 : 0, areas[i].Length);
            }
        }
    }

    [TestMethod]
    public void CrowdAnnotationsCanBeLeftOutForTraining()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromCocoJson(folder.File("i.json", Instances), null, new CocoLoaderOptions { IncludeCrowd = false });
        CollectionAssert.AreEqual(new float[] { 10, 20, 40, 60 }, Vectors(data, DetectionColumns.Boxes)[0]);
        CollectionAssert.AreEqual(new[] { "b.jpg", "a.jpg" }, Column<string>(data, DetectionColumns.ImagePath));
    }

    [TestMethod]
    public void MalformedJsonNamesTheFileLineAndPosition()
    {
        using var folder = new ScratchFolder();
        string path = folder.File("broken.json", "{\n  \"images\": [\n    {\"id\": 1,, \"file_name\": \"a.jpg\"}\n  ]\n}");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(1).Data.LoadFromCocoJson(path));
        StringAssert.StartsWith(e.Message, $"'{path}' is not a valid COCO instances file: JSON error at line 3, position 14 (JSON path $.images[0]): ',' is an invalid start of a property name.");

        string typed = folder.File("typed.json", "{\"images\": [{\"id\": \"one\"}]}");
        e = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext(1).Data.LoadFromCocoJson(typed));
        StringAssert.StartsWith(e.Message, $"'{typed}' is not a valid COCO instances file: JSON error at line 1, position 25 (JSON path $.images[0].id)");
    }

    [TestMethod]
    public void AnnotationOfAnUnknownImageOrCategoryIsNamed()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string unknownImage = folder.File("img.json", Instances.Replace("\"image_id\": 9, \"category_id\": 3", "\"image_id\": 4, \"category_id\": 3"));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(unknownImage));
        Assert.AreEqual($"'{unknownImage}': annotation id 11 (annotations[0]) refers to image id 4, which is not in 'images'. Add the image or remove the annotation.", e.Message);

        string unknownCategory = folder.File("cat.json", Instances.Replace("\"category_id\": 3", "\"category_id\": 7"));
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(unknownCategory));
        Assert.AreEqual($"'{unknownCategory}': annotation id 11 (annotations[0]) of image id 9 ('b.jpg') has category id 7, which is not in 'categories'. Fix the annotation, or set InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out.", e.Message);
    }

    [TestMethod]
    public void ZeroSizedAndOutsideBoxesThrowOrAreSkippedWithAWarning()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string zero = folder.File("zero.json", Instances.Replace("[10, 20, 30, 40]", "[10, 20, 0, 40]"));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(zero));
        Assert.AreEqual($"'{zero}': annotation id 11 (annotations[0]) of image id 9 ('b.jpg') has the box [10, 20, 0, 40] of zero or negative size. Fix the annotation, or set InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out.", e.Message);

        string outside = folder.File("outside.json", Instances.Replace("[10, 20, 30, 40]", "[80, 20, 30, 40]"));
        e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(outside));
        StringAssert.Contains(e.Message, "has the box [80, 20, 30, 40] outside the 100×80 image.");

        // Within the tolerance (1 pixel by default) a box may reach past the edge.
        string edge = folder.File("edge.json", Instances.Replace("[10, 20, 30, 40]", "[70.5, 20, 30, 40]"));
        Assert.AreEqual(2, Vectors(ml.Data.LoadFromCocoJson(edge), DetectionColumns.Boxes)[0].Length / 4);

        var warnings = new List<string>();
        ml.Log += (_, args) => { if (args.Kind == ChannelMessageKind.Warning) warnings.Add(args.Message); };
        var data = ml.Data.LoadFromCocoJson(outside, null, new CocoLoaderOptions { InvalidBoxes = InvalidBoxHandling.SkipWithWarning });
        CollectionAssert.AreEqual(new float[] { 0.5f, 1.5f, 20.5f, 11.5f }, Vectors(data, DetectionColumns.Boxes)[0]);
        Assert.AreEqual(1, warnings.Count);
        StringAssert.Contains(warnings[0], $"'{outside}': annotation id 11 (annotations[0]) of image id 9 ('b.jpg') has the box [80, 20, 30, 40] outside the 100×80 image; skipped.");
    }

    [TestMethod]
    public void MissingImagesFailOnlyWhenAskedToCheck()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string path = folder.File("i.json", Instances);
        File.WriteAllText(folder.Combine("b.jpg"), "");
        Assert.IsNotNull(ml.Data.LoadFromCocoJson(path, folder.Path)); // not checked by default
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Data.LoadFromCocoJson(path, folder.Path, new CocoLoaderOptions { CheckImagesExist = true }));
        Assert.AreEqual($"'{path}': image id 5 is 'a.jpg', but '{folder.Combine("a.jpg")}' does not exist. Check the images folder, or set CheckImagesExist = false when the images are not needed.", e.Message);
    }

    [TestMethod]
    public void MissingFieldsAndDuplicateIdsAreNamed()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string noCategories = folder.File("a.json", """{"images": [], "annotations": []}""");
        Assert.AreEqual($"'{noCategories}' has no 'categories': a COCO instances file lists its classes there.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(noCategories)).Message);
        string twice = folder.File("b.json", Instances.Replace("\"id\": 5,", "\"id\": 9,"));
        Assert.AreEqual($"'{twice}': image id 9 appears twice in 'images' (images[0] and images[1]).",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(twice)).Message);
        string sameName = folder.File("c.json", Instances.Replace("\"name\": \"cat\"", "\"name\": \"dog\""));
        Assert.AreEqual($"'{sameName}': categories 3 and 1 are both named 'dog'; class names must be unique.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(sameName)).Message);
        string noBox = folder.File("d.json", Instances.Replace("\"bbox\": [10, 20, 30, 40], ", ""));
        Assert.AreEqual($"'{noBox}': annotation id 11 (annotations[0]) of image id 9 ('b.jpg') needs a 'bbox' of 4 numbers [x, y, width, height], but has none.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(noBox)).Message);
        string noSize = folder.File("e.json", Instances.Replace(", \"width\": 50, \"height\": 40", ""));
        Assert.AreEqual($"'{noSize}': image id 5 ('a.jpg') needs a positive 'width' and 'height', but has none×none.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoJson(noSize)).Message);
        Assert.ThrowsExactly<FileNotFoundException>(() => ml.Data.LoadFromCocoJson(folder.Combine("nope.json")));
    }

    [TestMethod]
    public void ResultsBecomeScoredRowsThatJoinTheGroundTruthByImageId()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string gtPath = folder.File("i.json", Instances);
        string resPath = folder.File("r.json", """
            [{"image_id": 9, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
             {"image_id": 9, "category_id": 3, "bbox": [5, 6, 7, 8], "score": 0.25, "segmentation": []}]
            """);
        var results = ml.Data.LoadFromCocoResultsJson(resPath, gtPath);
        CollectionAssert.AreEqual(new long[] { 9, 5 }, Column<long>(results, CocoColumns.ImageId));
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, DetectionDataView.GetClassNames(results.Schema, DetectionColumns.PredictedLabels));

        var joined = ml.Data.JoinOnImageId(ml.Data.LoadFromCocoJson(gtPath), results);
        foreach (var name in new[] { DetectionColumns.Boxes, DetectionColumns.Labels, CocoColumns.ImageId, DetectionColumns.PredictedBoxes, DetectionColumns.PredictedLabels, DetectionColumns.Scores })
            Assert.IsNotNull(joined.Schema.GetColumnOrNull(name), name);
        var predicted = Vectors(joined, DetectionColumns.PredictedBoxes);
        CollectionAssert.AreEqual(new float[] { 1, 2, 4, 6, 5, 6, 12, 14 }, predicted[0]);
        Assert.AreEqual(0, predicted[1].Length);
        CollectionAssert.AreEqual(new float[] { 0.5f, 0.25f }, Vectors(joined, DetectionColumns.Scores)[0]);
        var labels = joined.GetColumn<VBuffer<uint>>(joined.Schema[DetectionColumns.PredictedLabels]).Select(v => v.DenseValues().ToArray()).ToArray();
        CollectionAssert.AreEqual(new uint[] { 1, 2 }, labels[0]);
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, DetectionDataView.GetClassNames(joined.Schema, DetectionColumns.PredictedLabels));
    }

    [TestMethod]
    public void BadResultsAreNamed()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        string gtPath = folder.File("i.json", Instances);
        string unknownImage = folder.File("r1.json", """[{"image_id": 4, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]""");
        Assert.AreEqual($"'{unknownImage}': results[0] refers to image id 4, which is not in '{gtPath}'. Results must be for images of the ground truth (pycocotools refuses them too).",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoResultsJson(unknownImage, gtPath)).Message);
        string unknownCategory = folder.File("r2.json", """[{"image_id": 9, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]""");
        Assert.AreEqual($"'{unknownCategory}': results[0] has category id 2, which is not in the 'categories' of '{gtPath}'.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoResultsJson(unknownCategory, gtPath)).Message);
        string noScore = folder.File("r3.json", """[{"image_id": 9, "category_id": 1, "bbox": [1, 2, 3, 4]}]""");
        Assert.AreEqual($"'{noScore}': results[0] needs a finite 'score', but has none.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoResultsJson(noScore, gtPath)).Message);
        string notAList = folder.File("r4.json", """{"image_id": 9}""");
        StringAssert.StartsWith(Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.LoadFromCocoResultsJson(notAList, gtPath)).Message,
            $"'{notAList}' is not a valid COCO results file: JSON error at line 1, position 2 (JSON path $): the value there has the wrong type");
    }

    [TestMethod]
    public void JoiningNeedsUniqueIdsThatTheGroundTruthHas()
    {
        using var folder = new ScratchFolder();
        var ml = new MLContext(1);
        var gt = ml.Data.LoadFromCocoJson(folder.File("i.json", Instances));
        var stranger = ml.Data.LoadFromEnumerable(new[] { new IdRow { ImageId = 9 }, new IdRow { ImageId = 6 } });
        Assert.AreEqual("Predictions row 1 has image id 6, which the ground truth does not have. Predict on the ground-truth images, or drop that row.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.JoinOnImageId(gt, stranger)).Message);
        var twice = ml.Data.LoadFromEnumerable(new[] { new IdRow { ImageId = 9 }, new IdRow { ImageId = 9 } });
        Assert.AreEqual("The predictions have image id 9 in rows 0 and 1; joining needs at most one row per image.",
            Assert.ThrowsExactly<InvalidDataException>(() => ml.Data.JoinOnImageId(gt, twice)).Message);
        var noId = ml.Data.LoadFromEnumerable(new[] { new { Other = 1L } }.Select(x => new OtherRow { Other = x.Other }));
        StringAssert.StartsWith(Assert.ThrowsExactly<ArgumentException>(() => ml.Data.JoinOnImageId(gt, noId)).Message,
            "The right (predictions) data has no column 'ImageId' to join on.");
    }

    private sealed class IdRow { public long ImageId; public float Extra = 1; }

    private sealed class OtherRow { public long Other; }
}
