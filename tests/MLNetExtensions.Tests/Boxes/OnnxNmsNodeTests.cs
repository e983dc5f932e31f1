using MLNetExtensions.Boxes;

namespace MLNetExtensions.Tests.Boxes;

/// <summary>
/// The ONNX operator's own conformance cases (Debian's libonnx-testdata): every case must reproduce
/// <c>selected_indices</c> exactly.
/// </summary>
[TestClass]
public sealed class OnnxNmsNodeTests
{
    private const string NodeDir = "/usr/share/libonnx-testdata/data/node";

    private static readonly string[] Cases =
    [
        "test_nonmaxsuppression_center_point_box_format",
        "test_nonmaxsuppression_flipped_coordinates",
        "test_nonmaxsuppression_identical_boxes",
        "test_nonmaxsuppression_limit_output_size",
        "test_nonmaxsuppression_single_box",
        "test_nonmaxsuppression_suppress_by_IOU",
        "test_nonmaxsuppression_suppress_by_IOU_and_scores",
        "test_nonmaxsuppression_two_batches",
        "test_nonmaxsuppression_two_classes",
    ];

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c });

    [TestMethod]
    [DynamicData(nameof(CaseNames))]
    public void ReproducesTheOnnxNodeTest(string name)
    {
        var dir = Path.Combine(NodeDir, name, "test_data_set_0");
        RequireTestData(dir);

        var boxes = OnnxTensorProto.Read(Path.Combine(dir, "input_0.pb"));
        var scores = OnnxTensorProto.Read(Path.Combine(dir, "input_1.pb"));
        long maxOutput = OnnxTensorProto.Read(Path.Combine(dir, "input_2.pb")).ToInt64s().Single();
        float iou = OnnxTensorProto.Read(Path.Combine(dir, "input_3.pb")).ToFloats().Single();
        float scoreThreshold = OnnxTensorProto.Read(Path.Combine(dir, "input_4.pb")).ToFloats().Single();
        var expected = OnnxTensorProto.Read(Path.Combine(dir, "output_0.pb"));
        int centerPointBox = (int)(OnnxNodeAttributes.ReadInt(Path.Combine(NodeDir, name, "model.onnx"), "center_point_box") ?? 0);

        Assert.AreEqual(3, boxes.Dims.Count, "boxes are (batches, boxes, 4)");
        Assert.AreEqual(name.Contains("center_point_box") ? 1 : 0, centerPointBox, "attribute read from model.onnx");
        var selected = NonMaxSuppression.ApplyOnnx(boxes.ToFloats(), scores.ToFloats(), (int)scores.Dims[0], (int)scores.Dims[1],
            maxOutput, iou, scoreThreshold, centerPointBox);

        CollectionAssert.AreEqual(new long[] { expected.Dims[0], 3 }, expected.Dims.ToArray());
        CollectionAssert.AreEqual(expected.ToInt64s(), selected,
            $"{name}: expected [{string.Join(", ", expected.ToInt64s())}], got [{string.Join(", ", selected)}]");
    }

    [TestMethod]
    public void EveryNmsNodeTestInThePackageIsCovered()
    {
        RequireTestData(NodeDir);
        var found = Directory.GetDirectories(NodeDir, "test_nonmaxsuppression_*").Select(Path.GetFileName).Order().ToArray();
        CollectionAssert.IsSubsetOf(found, Cases, $"New NMS node tests in the package: {string.Join(", ", found.Except(Cases))}");
    }

    [TestMethod]
    public void ParsesTensorProtoFieldsByHand()
    {
        // dims [2] (packed), data_type FLOAT, float_data [1.5, -2] (packed), name "t"; then a raw INT64 tensor.
        var floats = new byte[] { 0x0A, 0x01, 0x02, 0x10, 0x01, 0x22, 0x08, 0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x42, 0x01, 0x74 };
        var raw = new byte[] { 0x08, 0x01, 0x10, 0x07, 0x4A, 0x08, 0x05, 0, 0, 0, 0, 0, 0, 0 };
        var dir = Directory.CreateTempSubdirectory("onnxproto");
        try
        {
            File.WriteAllBytes(Path.Combine(dir.FullName, "f.pb"), floats);
            File.WriteAllBytes(Path.Combine(dir.FullName, "r.pb"), raw);
            var f = OnnxTensorProto.Read(Path.Combine(dir.FullName, "f.pb"));
            Assert.AreEqual("t", f.Name);
            CollectionAssert.AreEqual(new[] { 1.5f, -2f }, f.ToFloats());
            CollectionAssert.AreEqual(new[] { 5L }, OnnxTensorProto.Read(Path.Combine(dir.FullName, "r.pb")).ToInt64s());
        }
        finally { dir.Delete(recursive: true); }
    }

    private static void RequireTestData(string path)
    {
        if (Directory.Exists(path)) return;
        var message = $"'{path}' is missing: install Debian's libonnx-testdata package (apt-get install libonnx-testdata).";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) Assert.Fail(message);
        Assert.Inconclusive(message);
    }
}
