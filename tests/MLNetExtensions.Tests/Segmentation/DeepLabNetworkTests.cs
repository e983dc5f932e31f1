using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

internal static class TensorEquality
{
    /// <summary>Bit-for-bit equality of two tensors of the same shape.</summary>
    public static bool IsSameAs(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}

[TestClass]
public sealed class DeepLabNetworkTests
{
    [TestInitialize]
    public void Init() => TorchRuntime.EnsureLoaded();

    internal static DeepLabNetwork Small(int outputStride = 16, int classes = 4, PixelNormalization normalization = PixelNormalization.MinusOneToOne)
        => new(new ResNetLiteBackbone(3, outputStride, widthMultiplier: 0.25f), classes, normalization, asppChannels: 32, lowLevelProjection: 16);

    [TestMethod]
    [DataRow(16, 4)]
    [DataRow(8, 8)]
    public void GivesLogitsAtTheInputSizeFromFeaturesAtTheOutputStride(int outputStride, int highLevelSize)
    {
        using var scope = NewDisposeScope();
        var net = Small(outputStride);
        net.eval();
        var backbone = (ResNetLiteBackbone)net.Backbone;
        var (low, high) = backbone.call(zeros(2, 3, 64, 64));
        CollectionAssert.AreEqual(new long[] { 2, backbone.LowLevelChannels, 16, 16 }, low.shape);
        CollectionAssert.AreEqual(new long[] { 2, backbone.HighLevelChannels, highLevelSize, highLevelSize }, high.shape);
        CollectionAssert.AreEqual(new long[] { 2, 4, 64, 64 }, net.call(rand(2, 3, 64, 64) * 255).shape);
        CollectionAssert.AreEqual(outputStride == 8 ? new[] { 12, 24, 36 } : new[] { 6, 12, 18 }, net.Aspp.Rates.ToArray());
    }

    [TestMethod]
    [DataRow(16, PixelNormalization.MinusOneToOne, 64, 64)]
    [DataRow(8, PixelNormalization.PerImageStandardization, 72, 56)]
    [DataRow(16, PixelNormalization.ImageNet, 64, 64)]
    [DataRow(16, PixelNormalization.ImageNetMeanSubtraction, 48, 64)]
    public void OnnxExportMatchesTorchLogits(int outputStride, PixelNormalization normalization, int height, int width)
    {
        var net = OnnxTestKit.Randomize(Small(outputStride, normalization: normalization), seed: 11);
        var metadata = new OnnxModelMetadata(OnnxModelKind.Segmentation, ["background", "a", "b", "c"], 3, height, width);
        var bytes = net.ExportGraph(new NetworkInput(width, height, false), metadata).ToBytes();
        using var session = new InferenceSession(bytes);
        foreach (long batch in new long[] { 1, 2 })
        {
            using var scope = NewDisposeScope();
            manual_seed(20 + batch);
            var x = rand(batch, 3, height, width) * 255;
            Tensor expected;
            using (no_grad()) expected = net.call(x);
            var (actual, shape) = OnnxTestKit.Run(session, ScoringColumns.OnnxPixels, x.data<float>().ToArray(), x.shape);
            // ImageNet mean subtraction feeds the random network ±130 instead of ±1, so its logits reach ~1e3; float32
            // sums in another order then differ by ~2e-6 of that (measured 0.0022 at 1050), hence 1e-5 of the scale.
            double scale = expected.abs().max().item<float>();
            OnnxTestKit.AssertClose(expected, actual, shape, Math.Max(1e-4, 1e-5 * scale), $"OS{outputStride} batch {batch}");
        }
        Assert.AreEqual(OnnxModelKind.Segmentation, OnnxModelMetadata.Read(new MemoryStream(bytes)).Kind);
        CollectionAssert.Contains(OnnxTestKit.OpTypes(bytes), "GlobalAveragePool");
    }

    [TestMethod]
    public void ExportNamesTheLogitsShape()
    {
        var net = OnnxTestKit.Randomize(Small(), seed: 3);
        var bytes = net.ExportGraph(new NetworkInput(48, 32, false), new OnnxModelMetadata(OnnxModelKind.Segmentation, ["a", "b", "c", "d"], 3, 32, 48)).ToBytes();
        using var session = new InferenceSession(bytes);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[3 * 32 * 48], [1, 3, 32, 48]);
        using var outputs = session.Run(new RunOptions(), [ScoringColumns.OnnxPixels], [input], [ScoringColumns.OnnxLogitsShape]);
        CollectionAssert.AreEqual(new[] { 4f, 32f, 48f }, outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    internal static List<(string Name, Tensor Mean, Tensor Var)> BatchNormStats(nn.Module module)
        => module.named_modules().Where(m => m.module is BatchNorm)
            .Select(m => (m.name, ((BatchNorm)m.module).running_mean!.clone(), ((BatchNorm)m.module).running_var!.clone())).ToList();

    internal static void TrainSteps(DeepLabNetwork net, int steps)
    {
        var loss = new SegmentationLoss(SegmentationLossKind.CrossEntropy);
        var optimizer = optim.SGD(net.parameters().Where(p => p.requires_grad), 0.05, momentum: 0.9);
        net.train();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            manual_seed(100 + i);
            var images = rand(4, 3, 32, 32) * 255;
            var targets = randint(0, 4, [4, 32, 32], dtype: ScalarType.Int64);
            optimizer.zero_grad();
            loss.Compute(net.call(images), targets).Total.backward();
            optimizer.step();
            net.train();   // a training loop calls train() again (e.g. after validation): frozen stages must not follow
        }
    }

    [TestMethod]
    public void FrozenBackboneKeepsItsBatchNormStatisticsAndGivesTheSameOutputInTrainAndEval()
    {
        using var scope = NewDisposeScope();
        var net = OnnxTestKit.Randomize(Small(), seed: 5);
        net.Freeze();
        var backboneModule = (nn.Module<Tensor, (Tensor, Tensor)>)net.Backbone;
        var before = BatchNormStats(backboneModule);
        var weightsBefore = backboneModule.parameters().Select(p => p.clone()).ToList();
        var asppBefore = BatchNormStats(net.Aspp);
        manual_seed(9);
        var fixedBatch = rand(3, 3, 32, 32) * 255;
        var normalize = new InputNormalization(PixelNormalization.MinusOneToOne);

        TrainSteps(net, 3);

        var after = BatchNormStats(backboneModule);
        Assert.HasCount(before.Count, after);
        Assert.IsGreaterThan(0, before.Count);
        for (int i = 0; i < before.Count; i++)
        {
            Assert.IsTrue(before[i].Mean.IsSameAs(after[i].Mean), $"running_mean of {before[i].Name} changed");
            Assert.IsTrue(before[i].Var.IsSameAs(after[i].Var), $"running_var of {before[i].Name} changed");
        }
        foreach (var (w0, w1) in weightsBefore.Zip(backboneModule.parameters()))
            Assert.IsTrue(w0.IsSameAs(w1), "frozen weights changed");
        // The head did learn: its BatchNorm statistics moved (so the test above could fail).
        Assert.IsTrue(asppBefore.Zip(BatchNormStats(net.Aspp)).Any(p => !p.First.Mean.IsSameAs(p.Second.Mean)));

        using var noGrad = no_grad();
        net.train();
        Assert.IsTrue(net.training);
        var (lowTrain, highTrain) = backboneModule.call(normalize.call(fixedBatch));
        net.eval();
        var (lowEval, highEval) = backboneModule.call(normalize.call(fixedBatch));
        Assert.IsTrue(lowTrain.IsSameAs(lowEval) && highTrain.IsSameAs(highEval), "a frozen backbone must compute the same in train and eval mode");
    }

    [TestMethod]
    public void FreezingUpToAStageLeavesTheLaterStagesTraining()
    {
        using var scope = NewDisposeScope();
        var net = OnnxTestKit.Randomize(Small(), seed: 6);
        net.Freeze("layer2");
        CollectionAssert.AreEqual(new[] { "stem", "layer1", "layer2" }, net.FrozenStages.ToArray());
        var backbone = (nn.Module)net.Backbone;
        var before = BatchNormStats(backbone);
        TrainSteps(net, 2);
        var after = BatchNormStats(backbone);
        for (int i = 0; i < before.Count; i++)
        {
            bool frozen = before[i].Name.StartsWith("stem", StringComparison.Ordinal) || before[i].Name.StartsWith("layer1", StringComparison.Ordinal) || before[i].Name.StartsWith("layer2", StringComparison.Ordinal);
            Assert.AreEqual(frozen, before[i].Mean.IsSameAs(after[i].Mean), before[i].Name);
        }
        Assert.IsTrue(backbone.named_modules().Where(m => m.name.StartsWith("layer3", StringComparison.Ordinal)).All(m => m.module.training));
    }

    [TestMethod]
    public void FreezingAnUnknownStageNamesTheStages()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Small().Freeze("layer9"));
        StringAssert.Contains(ex.Message, "The backbone has no stage 'layer9'. Its stages are: stem, layer1, layer2, layer3, layer4.");
    }
}
