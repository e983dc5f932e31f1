using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Onnx.Proto;

namespace MLNetExtensions.Tests.Onnx;

[TestClass]
public sealed class OnnxGraphBuilderTests
{
    [TestMethod]
    public void NamesAreScopedAndMadeUnique()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 2);
        string a, b, c;
        using (g.BeginScope("layer1"))
        {
            a = g.AddInitializer("weight", [1f, 2f], 2);
            b = g.AddInitializer("weight", [3f, 4f], 2);
            using (g.BeginScope("0"))
                c = g.AddInitializer("weight", [5f, 6f], 2);
            Assert.AreEqual("layer1", g.CurrentScope);
        }
        Assert.AreEqual("", g.CurrentScope);
        Assert.AreEqual("layer1.weight", a);
        Assert.AreEqual("layer1.weight_2", b);
        Assert.AreEqual("layer1.0.weight", c);
        var y1 = OnnxOps.Add(g, x, a);
        var y2 = OnnxOps.Add(g, y1, b);
        Assert.AreEqual("add", y1);
        Assert.AreEqual("add_2", y2);
    }

    [TestMethod]
    public void ANodeReadingAnUnknownValueFailsWhereItIsAdded()
    {
        var g = new OnnxGraphBuilder();
        g.AddInput("x", "N", 2);
        using var scope = g.BeginScope("head");
        var ex = Assert.ThrowsExactly<OnnxExportException>(() => OnnxOps.Relu(g, "nope"));
        Assert.AreEqual("The Relu node in 'head' reads 'nope', which is neither a graph input, an initializer, nor the output of an earlier node.", ex.Message);
    }

    [TestMethod]
    public void InitializerShapesAreChecked()
    {
        var g = new OnnxGraphBuilder();
        var ex = Assert.ThrowsExactly<ArgumentException>(() => g.AddInitializer("w", [1f, 2f, 3f], 2, 2));
        StringAssert.Contains(ex.Message, "Initializer 'w' has 3 elements, but its shape (2, 2) holds 4.");
    }

    [TestMethod]
    public void AGraphWithoutOutputsCannotBeSaved()
    {
        var g = new OnnxGraphBuilder("empty");
        g.AddInput("x", "N", 2);
        var ex = Assert.ThrowsExactly<OnnxExportException>(() => g.ToBytes());
        Assert.AreEqual("Graph 'empty' has no outputs: call AddOutput for the values the model returns.", ex.Message);
    }

    [TestMethod]
    public void ScopesMustCloseInReverseOrder()
    {
        var g = new OnnxGraphBuilder();
        var outer = g.BeginScope("a");
        g.BeginScope("b");
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => outer.Dispose());
        StringAssert.Contains(ex.Message, "'a.b' is open inside the one being closed");
    }

    [TestMethod]
    public void ModelHasIrVersion8Opset17AndADynamicBatchAxisThatOnnxRuntimeRuns()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", OnnxGraphBuilder.BatchDimension, 2, 3);
        var bias = g.AddInitializer("bias", [10f, 20f, 30f], 3);
        var y = OnnxOps.Reshape(g, OnnxOps.Add(g, x, bias), [0, -1]);   // int64 initializer for the shape
        g.AddOutput(y, "y", OnnxGraphBuilder.BatchDimension, 6);
        var bytes = g.ToBytes();

        var model = ModelProto.Parser.ParseFrom(bytes);
        Assert.AreEqual(8L, model.IrVersion);
        Assert.AreEqual(17L, model.OpsetImport.Single(o => o.Domain == "").Version);
        Assert.AreEqual("MLNetExtensions", model.ProducerName);
        Assert.AreEqual("N", model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.AreEqual(3L, model.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimValue);
        Assert.AreEqual("N", model.Graph.Output[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.AreEqual((int)TensorProto.Types.DataType.Int64, model.Graph.Initializer.Single(t => t.Name == "reshape_shape").DataType);

        using var session = new InferenceSession(bytes);
        foreach (int batch in new[] { 1, 3 })
        {
            var input = Enumerable.Range(0, batch * 6).Select(i => (float)i).ToArray();
            var (output, shape) = OnnxTestKit.Run(session, "x", input, [batch, 2, 3]);
            CollectionAssert.AreEqual(new long[] { batch, 6 }, shape);
            CollectionAssert.AreEqual(input.Select((v, i) => v + 10 * (i % 3 + 1)).ToArray(), output);
        }
    }

    [TestMethod]
    public void AnOutputNameRenamesTheProducingNodeAndTheOldNameKeepsWorking()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 4);
        var r = OnnxOps.Relu(g, x);
        g.AddOutput(r, "features", "N", 4);
        var s = OnnxOps.Sigmoid(g, r);            // 'relu' now means 'features'
        g.AddOutput(s, "scores", "N", 4);
        g.AddOutput(x, "echo", "N", 4);           // a graph input as output goes through an Identity node
        var model = ModelProto.Parser.ParseFrom(g.ToBytes());
        CollectionAssert.AreEqual(new[] { "Relu", "Sigmoid", "Identity" }, model.Graph.Node.Select(n => n.OpType).ToArray());
        Assert.AreEqual("features", model.Graph.Node[0].Output[0]);
        Assert.AreEqual("features", model.Graph.Node[1].Input[0]);

        using var session = new InferenceSession(g.ToBytes());
        using var input = OrtValue.CreateTensorValueFromMemory(new[] { -1f, 0f, 2f, -3f }, [1L, 4L]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, ["x"], [input], ["features", "scores", "echo"]);
        CollectionAssert.AreEqual(new[] { 0f, 0f, 2f, 0f }, outputs[0].GetTensorDataAsSpan<float>().ToArray());
        CollectionAssert.AreEqual(new[] { -1f, 0f, 2f, -3f }, outputs[2].GetTensorDataAsSpan<float>().ToArray());
    }

    [TestMethod]
    public void DuplicateNamesAreRejected()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 4);
        Assert.ThrowsExactly<ArgumentException>(() => g.AddInput("x", "N", 4));
        var r = OnnxOps.Relu(g, x);
        g.AddOutput(r, "y", "N", 4);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => g.AddOutput(x, "y", "N", 4));
        StringAssert.Contains(ex.Message, "The graph already has an output named 'y'.");
        var attr = Assert.ThrowsExactly<ArgumentException>(() => g.AddNode("LeakyRelu", [x], null, OnnxAttribute.Float("alpha", 0.1f), OnnxAttribute.Float("alpha", 0.2f)));
        StringAssert.Contains(attr.Message, "Attribute 'alpha' is given twice");
    }

    [TestMethod]
    public void OpsCheckTheirArguments()
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", "N", 3, 4, 4);
        var pads = Assert.ThrowsExactly<ArgumentException>(() => OnnxOps.Pad(g, x, [1, 1, 1, 1]));
        StringAssert.Contains(pads.Message, "Pad of rank-4 'x' needs 8 pads, but got 4.");
        var perm = Assert.ThrowsExactly<ArgumentException>(() => OnnxOps.Transpose(g, x, [0, 1, 1, 3]));
        StringAssert.Contains(perm.Message, "must be a permutation of 0..3");
        var scales = Assert.ThrowsExactly<ArgumentException>(() => OnnxOps.Resize(g, x, [2f, 2f], OnnxResizeMode.Bilinear));
        StringAssert.Contains(scales.Message, "Resize of rank-4 'x' needs 4 scales, but got 2.");
        var conv = Assert.ThrowsExactly<ArgumentException>(() => OnnxOps.Conv(g, x, x, null, [1, 1], [0, 0], [1, 1]));
        StringAssert.Contains(conv.Message, "Conv needs one stride and dilation per spatial axis and two pads (begin, end) per axis");
    }

    [TestMethod]
    public void ALoadedModelCanBeContinued()
    {
        // y = relu(x + b), then loaded: its output replaced by y * 2, the batch fixed to 1, the metadata kept.
        var first = new OnnxGraphBuilder("g")
        {
            Metadata = new OnnxModelMetadata(OnnxModelKind.Detection, ["a"], 1, 1, 2, extra: new Dictionary<string, string> { ["k"] = "v" }),
        };
        var x = first.AddInput("x", "N", 2);
        var relu = OnnxOps.Relu(first, OnnxOps.Add(first, x, first.AddInitializer("b", [1f, -5f], 2)));
        first.AddOutput(relu, "y", "N", 2);

        var g = OnnxGraphBuilder.Load(first.ToBytes());
        Assert.IsTrue(g.HasValue("x") && g.HasValue("b") && g.HasValue("y"));
        Assert.AreEqual(2, g.RankOf("y"));
        CollectionAssert.AreEqual(new long[] { 2 }, g.InitializerShape("b")!.ToArray());
        Assert.AreEqual("v", g.Metadata!.Extra["k"]);
        g.RemoveOutput("y");
        g.SetInputDimension("x", 0, 1);
        var doubled = OnnxOps.Mul(g, "y", g.AddInitializer("two", [2f]));
        Assert.AreNotEqual("y", doubled);
        g.AddOutput(doubled, "z", 1, 2);
        Assert.AreEqual(first.NodeCount + 1, g.NodeCount);

        using var session = new InferenceSession(g.ToBytes());
        Assert.AreEqual(1, session.InputMetadata["x"].Dimensions[0], "batch fixed to 1");
        CollectionAssert.AreEqual(new[] { "z" }, session.OutputNames.ToArray(), "only the new output");
        using var input = OrtValue.CreateTensorValueFromMemory(new float[] { 2f, 3f }, [1, 2]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["z"]);
        CollectionAssert.AreEqual(new[] { 6f, 0f }, outputs[0].GetTensorDataAsSpan<float>().ToArray());
        Assert.AreEqual("v", session.ModelMetadata.CustomMetadataMap["k"]);

        var e = Assert.ThrowsExactly<ArgumentException>(() => g.RemoveOutput("y"));
        StringAssert.StartsWith(e.Message, "The graph has no output named 'y'.");
        var bad = first.ToModel();
        bad.OpsetImport[0].Version = 13;
        var e2 = Assert.ThrowsExactly<OnnxExportException>(() => OnnxGraphBuilder.Load(Google.Protobuf.MessageExtensions.ToByteArray(bad), "old.onnx"));
        Assert.AreEqual("'old.onnx' imports opsets '' 13; only models written by this library (default domain, opset 17) can be continued.", e2.Message);
        var e3 = Assert.ThrowsExactly<InvalidDataException>(() => OnnxGraphBuilder.Load([1, 2, 3], "junk.onnx"));
        StringAssert.StartsWith(e3.Message, "'junk.onnx' is not an ONNX model");
    }
}
