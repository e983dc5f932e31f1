using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Tests.Onnx;

[TestClass]
public sealed class OnnxModelMetadataTests
{
    private static OnnxModelMetadata Sample() => new(
        OnnxModelKind.Detection,
        ["background", "cat, tabby", "\"quoted\" dog", "café"],
        3, 300, 320,
        mean: [0.485f, 0.456f, 0.406f],
        std: [0.229f, 0.224f, 0.225f],
        scoreThreshold: 0.01f,
        iouThreshold: 0.45f,
        extra: new Dictionary<string, string> { ["trained_on"] = "VOC2007" });

    [TestMethod]
    public void MetadataRoundTripsThroughAFileAndOnnxRuntime()
    {
        var g = new OnnxGraphBuilder { Metadata = Sample() };
        var x = g.AddInput("x", "N", 3, 300, 320);
        g.AddOutput(OnnxOps.Relu(g, x), "y", "N", 3, 300, 320);
        var path = Path.Combine(Path.GetTempPath(), $"metadata-{Guid.NewGuid():N}.onnx");
        try
        {
            g.Save(path);
            AssertSame(Sample(), OnnxModelMetadata.Read(path));

            // ONNX Runtime sees the same entries as the model's custom metadata.
            using var session = new InferenceSession(path);
            var custom = session.ModelMetadata.CustomMetadataMap;
            Assert.AreEqual("detection", custom["mlnetext.model_kind"]);
            Assert.AreEqual("1", custom["mlnetext.format_version"]);
            AssertSame(Sample(), OnnxModelMetadata.FromProperties(custom.ToDictionary(), path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void OptionalEntriesStayAbsent()
    {
        var minimal = new OnnxModelMetadata(OnnxModelKind.Segmentation, ["road"], 1, 64, 48);
        var properties = minimal.ToProperties();
        Assert.IsFalse(properties.ContainsKey("mlnetext.mean"));
        Assert.IsFalse(properties.ContainsKey("mlnetext.score_threshold"));
        var back = OnnxModelMetadata.FromProperties(properties);
        Assert.IsNull(back.Mean);
        Assert.IsNull(back.Std);
        Assert.IsNull(back.IouThreshold);
        Assert.AreEqual(OnnxModelKind.Segmentation, back.Kind);
        CollectionAssert.AreEqual(new[] { "road" }, back.ClassNames.ToArray());
    }

    [TestMethod]
    public void MissingOrMalformedEntriesAreReportedWithTheSourceAndKey()
    {
        var good = Sample().ToProperties();
        var noVersion = good.Where(p => p.Key != "mlnetext.format_version").ToDictionary();
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(noVersion, "m.onnx"));
        StringAssert.Contains(ex.Message, "'m.onnx' has no 'mlnetext.format_version' metadata property, so it was not exported by MLNetExtensions.");

        var newer = new Dictionary<string, string>(good) { ["mlnetext.format_version"] = "2" };
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(newer, "m.onnx"));
        StringAssert.Contains(ex.Message, "'m.onnx' was written with metadata format 2, but this version of MLNetExtensions reads formats up to 1. Update MLNetExtensions.");

        var badHeight = new Dictionary<string, string>(good) { ["mlnetext.input_height"] = "tall" };
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(badHeight, "m.onnx"));
        Assert.AreEqual("'m.onnx': metadata 'mlnetext.input_height' is 'tall', which is not a positive integer.", ex.Message);

        var badKind = new Dictionary<string, string>(good) { ["mlnetext.model_kind"] = "classification,detection" };
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(badKind, "m.onnx"));
        StringAssert.Contains(ex.Message, "expected one of classification, detection, segmentation");

        var badNames = new Dictionary<string, string>(good) { ["mlnetext.class_names"] = "cat,dog" };
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(badNames, "m.onnx"));
        StringAssert.Contains(ex.Message, "metadata 'mlnetext.class_names' is 'cat,dog', which is not a JSON array of strings.");

        var inconsistent = new Dictionary<string, string>(good) { ["mlnetext.mean"] = "[0.5]" };
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.FromProperties(inconsistent, "m.onnx"));
        StringAssert.Contains(ex.Message, "'m.onnx': its metadata is inconsistent: mean and std need one value per input channel (3), but have 1 and 3.");
    }

    [TestMethod]
    public void AFileWithoutMetadataOrNotOnnxIsReported()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 2);
        g.AddOutput(OnnxOps.Relu(g, x), "y", "N", 2);
        using var plain = new MemoryStream(g.ToBytes());
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.Read(plain, "plain.onnx"));
        StringAssert.Contains(ex.Message, "'plain.onnx' has no 'mlnetext.format_version' metadata property");

        using var text = new MemoryStream("this is not a protobuf message"u8.ToArray());
        ex = Assert.ThrowsExactly<InvalidDataException>(() => OnnxModelMetadata.Read(text, "notes.txt"));
        StringAssert.Contains(ex.Message, "'notes.txt' is not an ONNX model");

        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => OnnxModelMetadata.Read("/nonexistent/model.onnx"));
        StringAssert.Contains(missing.Message, "ONNX model '/nonexistent/model.onnx' does not exist.");
    }

    [TestMethod]
    public void TheConstructorChecksEveryArgument()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new OnnxModelMetadata(OnnxModelKind.Classification, [], 3, 8, 8)).Message, "At least one class name is needed.");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new OnnxModelMetadata(OnnxModelKind.Classification, ["a", "a"], 3, 8, 8)).Message, "Class name 'a' appears twice.");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new OnnxModelMetadata(OnnxModelKind.Classification, ["a"], 3, 8, 8, mean: [0f, 0f, 0f])).Message, "Give both mean and std, or neither.");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new OnnxModelMetadata(OnnxModelKind.Classification, ["a"], 1, 8, 8, mean: [0f], std: [0f])).Message, "std must be finite and positive, but is (0).");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new OnnxModelMetadata(OnnxModelKind.Detection, ["a"], 3, 8, 8, scoreThreshold: 1.5f));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new OnnxModelMetadata(OnnxModelKind.Detection, ["a"], 3, 0, 8));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => new OnnxModelMetadata(OnnxModelKind.Detection, ["a"], 3, 8, 8, extra: new Dictionary<string, string> { ["mlnetext.x"] = "1" })).Message, "must not start with 'mlnetext.'");
        var g = new OnnxGraphBuilder();
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => g.SetMetadataProperty("mlnetext.model_kind", "x")).Message, "set that instead");
    }

    private static void AssertSame(OnnxModelMetadata expected, OnnxModelMetadata actual)
    {
        Assert.AreEqual(expected.Kind, actual.Kind);
        CollectionAssert.AreEqual(expected.ClassNames.ToArray(), actual.ClassNames.ToArray());
        Assert.AreEqual(expected.InputChannels, actual.InputChannels);
        Assert.AreEqual(expected.InputHeight, actual.InputHeight);
        Assert.AreEqual(expected.InputWidth, actual.InputWidth);
        CollectionAssert.AreEqual(expected.Mean!.ToArray(), actual.Mean!.ToArray());
        CollectionAssert.AreEqual(expected.Std!.ToArray(), actual.Std!.ToArray());
        Assert.AreEqual(expected.ScoreThreshold, actual.ScoreThreshold);
        Assert.AreEqual(expected.IouThreshold, actual.IouThreshold);
        Assert.AreEqual(OnnxModelMetadata.CurrentFormatVersion, actual.FormatVersion);
        CollectionAssert.AreEquivalent(expected.Extra.ToArray(), actual.Extra.ToArray());
    }
}
