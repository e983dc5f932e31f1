using System.Buffers.Binary;
using System.Text;
using MLNetExtensions.Tests.Data;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Backbones;

/// <summary>The safetensors reader and writer, and key matching when loading into a module.</summary>
[TestClass]
public sealed class SafetensorsTests
{
    [TestInitialize]
    public void LoadTorch() => TorchRuntime.EnsureLoaded();

    /// <summary>Writes a file from a raw header text and data bytes, for the malformed-file tests.</summary>
    private static string WriteRaw(TempFolder folder, string header, int dataBytes, ulong? headerLength = null)
    {
        var path = folder["bad.safetensors"];
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void ReadsEveryDtypeWrittenByPython()
    {
        // dtypes.safetensors (make_backbone_fixtures.py): [0.5, -1.25, 3, 1024, -0.0078125, 65504] in each float type,
        // all exactly representable in F16 and BF16 except 65504, which bfloat16 rounds to 65536.
        var file = SafetensorsFile.Open(TempFolder.Fixture(Path.Combine("Backbones", "dtypes.safetensors")));
        Assert.AreEqual("conversion test", file.Metadata["note"]);
        var expected = new[] { 0.5f, -1.25f, 3f, 1024f, -0.0078125f, 65504f };
        foreach (var name in new[] { "f32", "f16", "f64" })
        {
            using var t = file.ReadTensor(name);
            Assert.AreEqual(ScalarType.Float32, t.dtype, name);
            CollectionAssert.AreEqual(expected, t.data<float>().ToArray(), name);
        }
        using (var bf16 = file.ReadTensor("bf16"))
            CollectionAssert.AreEqual(new[] { 0.5f, -1.25f, 3f, 1024f, -0.0078125f, 65536f }, bf16.data<float>().ToArray());
        using var i64 = file.ReadTensor("i64");
        Assert.AreEqual(ScalarType.Int64, i64.dtype);
        CollectionAssert.AreEqual(new long[] { 2, 3 }, i64.shape);
        CollectionAssert.AreEqual(new long[] { 1, -2, 3, 40_000_000_000, 5, -6 }, i64.data<long>().ToArray());
    }

    [TestMethod]
    public void SaveThenLoadRoundTripsAModule()
    {
        using var folder = new TempFolder();
        using var source = Onnx.OnnxTestKit.Randomize(new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 8 }), seed: 31);
        SafetensorsWeights.Save(source, folder["w.safetensors"], new Dictionary<string, string> { ["arch"] = "resnet18-w8" });
        var file = SafetensorsFile.Open(folder["w.safetensors"]);
        Assert.AreEqual("resnet18-w8", file.Metadata["arch"]);
        Assert.AreEqual("I64", file.Entries["bn1.num_batches_tracked"].DType);
        Assert.AreEqual(0, (new FileInfo(folder["w.safetensors"]).Length - 8 - (long)file.Entries.Values.Sum(e => e.End - e.Begin)) % 8, "header padded to 8 bytes");

        using var target = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = 8 });
        var report = SafetensorsWeights.LoadInto(target, folder["w.safetensors"]);
        Assert.HasCount(source.state_dict().Count, report.LoadedKeys);
        var expected = source.state_dict();
        foreach (var (key, value) in target.state_dict())
            Assert.IsTrue(value.eq(expected[key]).all().item<bool>(), $"{key} differs after the round trip");
    }

    [TestMethod]
    public void MissingUnexpectedAndMisshapenKeysAreReportedTogether()
    {
        using var folder = new TempFolder();
        // A file from a block with a downsample (8 → 16, stride 2) loaded into one without (8 → 8): conv1/bn1 and
        // conv2/bn2 shapes differ, downsample.* are unexpected.
        using var wider = new ResidualBlock(8, 16, stride: 2);
        SafetensorsWeights.Save(wider, folder["w.safetensors"]);
        using var narrow = new ResidualBlock(8, 8);
        var e = Assert.Throws<WeightLoadException>(() => SafetensorsWeights.LoadInto(narrow, folder["w.safetensors"]));
        StringAssert.Contains(e.Message, $"The weights in '{folder["w.safetensors"]}' do not fit the module");
        StringAssert.Contains(e.Message, "6 unexpected key(s) (downsample.0.weight, downsample.1.bias, downsample.1.num_batches_tracked, downsample.1.running_mean, downsample.1.running_var, … 1 more)");
        StringAssert.Contains(e.Message, "10 shape mismatch(es) (bn1.bias: file [16] vs module [8], ");
        CollectionAssert.Contains(e.ShapeMismatches.ToArray(), "conv1.weight: file [16, 8, 3, 3] vs module [8, 8, 3, 3]");
        Assert.IsEmpty(e.MissingKeys);
        Assert.HasCount(6, e.UnexpectedKeys);
        Assert.HasCount(10, e.ShapeMismatches); // conv1, conv2 weights; bn1, bn2 weight/bias/mean/var

        // The other way round: downsample.* are missing; nothing is copied when anything is wrong.
        SafetensorsWeights.Save(narrow, folder["n.safetensors"]);
        using var projected = new ResidualBlock(8, 8, stride: 2);
        var before = projected.state_dict()["conv1.weight"].clone();
        var m = Assert.Throws<WeightLoadException>(() => SafetensorsWeights.LoadInto(projected, folder["n.safetensors"]));
        StringAssert.Contains(m.Message, "5 missing key(s) (downsample.0.weight, downsample.1.weight, downsample.1.bias, downsample.1.running_mean, downsample.1.running_var)");
        Assert.IsTrue(projected.state_dict()["conv1.weight"].eq(before).all().item<bool>(), "a failed load leaves the module unchanged");

        // AllowMissing keeps the module's values for the missing keys and loads the rest.
        var report = SafetensorsWeights.LoadInto(projected, folder["n.safetensors"], new WeightLoadOptions { AllowMissing = true });
        Assert.HasCount(6, report.MissingKeys, "the downsample's five tensors and its num_batches_tracked");
        Assert.IsTrue(projected.state_dict()["conv1.weight"].eq(narrow.state_dict()["conv1.weight"]).all().item<bool>());
    }

    [TestMethod]
    public void IgnoredPrefixesAndNumBatchesTrackedAreAllowed()
    {
        using var folder = new TempFolder();
        using var block = new ResidualBlock(4, 4);
        var state = block.state_dict()
            .Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .Append(new KeyValuePair<string, Tensor>("fc.weight", torch.ones(3, 4)))
            .Append(new KeyValuePair<string, Tensor>("fc.bias", torch.ones(3)));
        SafetensorsFile.Save(state, folder["w.safetensors"]);
        var e = Assert.Throws<WeightLoadException>(() => SafetensorsWeights.LoadInto(block, folder["w.safetensors"]));
        StringAssert.Contains(e.Message, "2 unexpected key(s) (fc.bias, fc.weight)");
        StringAssert.Contains(e.Message, "IgnoredPrefixes");
        var report = SafetensorsWeights.LoadInto(block, folder["w.safetensors"], new WeightLoadOptions { IgnoredPrefixes = ["fc."] });
        CollectionAssert.AreEquivalent(new[] { "fc.bias", "fc.weight" }, report.SkippedKeys.ToArray());
        CollectionAssert.AreEquivalent(new[] { "bn1.num_batches_tracked", "bn2.num_batches_tracked" }, report.MissingKeys.ToArray());
    }

    [TestMethod]
    public void MalformedFilesAreRejectedNamingTheFile()
    {
        using var folder = new TempFolder();
        string Open(string path) => Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)).Message;

        File.WriteAllBytes(folder["short.safetensors"], [1, 2, 3]);
        var shortMessage = Open(folder["short.safetensors"]);
        StringAssert.Contains(shortMessage, $"'{folder["short.safetensors"]}' is not a valid safetensors file: it is 3 bytes long");

        StringAssert.Contains(Open(WriteRaw(folder, "{}", 0, headerLength: 1000)), "its header length says 1000 bytes, but only 2 bytes follow");
        StringAssert.Contains(Open(WriteRaw(folder, "{\"a\": ", 0)), "its header is not valid JSON");
        StringAssert.Contains(Open(WriteRaw(folder, "[1, 2]", 0)), "its header is a JSON Array");
        const string entry = "{{\"w\":{{\"dtype\":\"{0}\",\"shape\":[2,2],\"data_offsets\":[{1},{2}]}}}}";
        StringAssert.Contains(Open(WriteRaw(folder, string.Format(entry, "F32", 0, 16), 8)), "the entry 'w' has data_offsets [0, 16], outside the 8 data bytes after the header (truncated?)");
        StringAssert.Contains(Open(WriteRaw(folder, string.Format(entry, "F32", 0, 12), 16)), "the entry 'w' (F32, shape [2, 2]) needs 16 bytes, but its data_offsets [0, 12] span 12");
        StringAssert.Contains(Open(WriteRaw(folder, string.Format(entry, "U8", 0, 4), 4)), "the entry 'w' has dtype U8; supported are F32, F16, BF16, F64, I64, I32");
        StringAssert.Contains(Open(WriteRaw(folder, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1]}}", 4)), "dimensions must be non-negative integers");

        // A valid file cut short: the last entry's bytes are gone.
        using var block = new ConvBnAct(3, 4);
        SafetensorsWeights.Save(block, folder["cut.safetensors"]);
        var bytes = File.ReadAllBytes(folder["cut.safetensors"]);
        File.WriteAllBytes(folder["cut.safetensors"], bytes[..^4]);
        StringAssert.Contains(Open(folder["cut.safetensors"]), "(truncated?)");

        var missing = folder["none.safetensors"];
        Assert.Throws<FileNotFoundException>(() => SafetensorsWeights.LoadInto(block, missing));
    }
}
