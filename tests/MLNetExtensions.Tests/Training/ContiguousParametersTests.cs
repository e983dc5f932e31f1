using HeldAdamW = MLNetExtensions.Torch.Training.HeldScalars.AdamW;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The library's AdamW keeps the parameters, gradients and moments in flat buffers: the parameters and gradients stay
/// views of their slots through backward, zero_grad and a checkpoint's load, whatever replaces them is gathered back,
/// and clipping over the flat gradients agrees with <c>clip_grad_norm_</c>.
/// </summary>
[TestClass]
public sealed class ContiguousParametersTests
{
    private static nn.Module<Tensor, Tensor> Network()
    {
        torch.manual_seed(23);
        return nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 6 * 6, 4));
    }

    private static void Backward(nn.Module<Tensor, Tensor> network, int step)
    {
        torch.manual_seed(200 + step);
        using var x = randn(6, 3, 8, 8) * 4;
        using var y = randn(6, 4) * 10;
        using var loss = nn.functional.mse_loss(network.call(x), y);
        loss.backward();
    }

    private static float[] Values(nn.Module<Tensor, Tensor> network)
        => network.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    private static HeldAdamW Held(nn.Module<Tensor, Tensor> network)
        => (HeldAdamW)Optimizers.Create(network.parameters(), OptimizerKind.Adam, 0.05, 0, 1e-3);

    [TestMethod]
    public void TheParametersAndTheirGradientsAreViewsOfTheFlatBuffers()
    {
        using var network = Network();
        var before = Values(network);
        using var optimizer = Held(network);
        var flat = optimizer.Contiguous ?? throw new AssertFailedException("the optimizer keeps no flat buffers");
        CollectionAssert.AreEqual(before, Values(network), "laying the parameters out keeps their values");
        Assert.AreEqual(network.parameters().Count(), flat.Parameters.Count);

        Backward(network, 0);
        Assert.IsTrue(flat.Gradients.abs().sum().item<float>() > 0, "backward wrote into the flat gradients");
        for (int i = 0; i < flat.Parameters.Count; i++)
        {
            using var grad = flat.Parameters[i].grad!;
            using var slot = flat.Slot(flat.Gradients, i);
            CollectionAssert.AreEqual(grad.data<float>().ToArray(), slot.data<float>().ToArray(), $"gradient {i} is its slot");
        }

        using (no_grad()) flat.Values.add_(1);
        CollectionAssert.AreEqual(before.Select(v => v + 1).ToArray(), Values(network), "the parameters are views of the flat values");

        optimizer.zero_grad();
        Assert.AreEqual(0f, flat.Gradients.abs().sum().item<float>());
        Assert.IsTrue(network.parameters().All(p => p.grad is { } g && g.abs().sum().item<float>() == 0), "zero_grad zeroed every gradient in place");
    }

    [TestMethod]
    public void GradientsThatAModuleZeroGradDroppedAreGatheredBack()
    {
        // Module.zero_grad() sets the gradients to null and the next backward makes new ones outside the buffer: without
        // gathering them back the flat step would update with the old (zeroed) slots and lose the step.
        using var reference = Network();
        using var referenceOptimizer = optim.AdamW(reference.parameters(), 0.05, weight_decay: 1e-3);
        using var held = Network();
        using var heldOptimizer = Held(held);
        for (int step = 0; step < 4; step++)
        {
            foreach (var (network, optimizer) in new[] { (reference, (optim.Optimizer)referenceOptimizer), (held, heldOptimizer) })
            {
                using var scope = NewDisposeScope();
                network.zero_grad();
                Backward(network, step);
                optimizer.step();
            }
        }
        CollectionAssert.AreEqual(Values(reference), Values(held), "parameters bit for bit with TorchSharp's AdamW");
        Assert.IsNotNull(heldOptimizer.Contiguous);
        using var grad = held.parameters().First().grad!;
        using var slot = heldOptimizer.Contiguous.Slot(heldOptimizer.Contiguous.Gradients, 0);
        CollectionAssert.AreEqual(grad.data<float>().ToArray(), slot.data<float>().ToArray(), "the gradient is back in its slot");
    }

    [TestMethod]
    public void ClippingTheFlatGradientsAgreesWithClipGradNorm()
    {
        using var reference = Network();
        using var referenceOptimizer = optim.AdamW(reference.parameters(), 0.05, weight_decay: 1e-3);
        var referenceStep = new GuardedOptimizerStep(referenceOptimizer, reference.parameters().ToList(), clipNorm: 0.5);
        using var held = Network();
        using var heldOptimizer = Held(held);
        var heldStep = new GuardedOptimizerStep(heldOptimizer, held.parameters().ToList(), clipNorm: 0.5);
        Backward(reference, 0);
        Backward(held, 0);
        double expectedNorm = referenceStep.ClipGradients(), actualNorm = heldStep.ClipGradients();
        Assert.IsTrue(expectedNorm > 5, $"the gradients ({expectedNorm}) were far over the clip norm, so clipping acted");
        Assert.AreEqual(expectedNorm, actualNorm, 1e-5 * expectedNorm, "the norm before clipping");
        Assert.AreEqual(0.5, heldOptimizer.Contiguous!.Gradients.norm().item<float>(), 1e-5, "the norm after");
        var expected = reference.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
        var actual = held.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-7 + 1e-5 * Math.Abs(expected[i]), $"clipped gradient element {i}");
    }

    [TestMethod]
    public void ResumingFromSavedStateMatchesAnUninterruptedRun()
    {
        using var straight = Network();
        using var straightOptimizer = Held(straight);
        for (int step = 0; step < 5; step++) Step(straight, straightOptimizer, step);

        using var model = new MemoryStream();
        using var state = new MemoryStream();
        using (var first = Network())
        using (var firstOptimizer = Held(first))
        {
            for (int step = 0; step < 3; step++) Step(first, firstOptimizer, step);
            using var modelWriter = new BinaryWriter(model, System.Text.Encoding.UTF8, leaveOpen: true);
            first.save(modelWriter);
            using var stateWriter = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true);
            firstOptimizer.save_state_dict(stateWriter);
        }
        model.Position = state.Position = 0;
        torch.manual_seed(99);
        using var resumed = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 6 * 6, 4));
        using var resumedOptimizer = Held(resumed);
        using (var modelReader = new BinaryReader(model)) resumed.load(modelReader);
        using (var stateReader = new BinaryReader(state)) resumedOptimizer.load_state_dict(stateReader);
        Assert.IsNotNull(resumedOptimizer.Contiguous);
        for (int step = 3; step < 5; step++) Step(resumed, resumedOptimizer, step);

        CollectionAssert.AreEqual(Values(straight), Values(resumed), "the resumed run ends bit for bit where the uninterrupted one does");
    }

    private static void Step(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, int step)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        Backward(network, step);
        optimizer.step();
    }

    [TestMethod]
    public void AnUpdateInChunksIsTorchSharpsAdamWBitForBit()
    {
        // Chunks of 48 floats: 20 of them over this network's 928 (its six slots padded to 16 floats each), most
        // boundaries inside a parameter (the linear layer's 720 weights span 16 chunks).
        using var reference = Network();
        using var referenceOptimizer = optim.AdamW(reference.parameters(), 0.05, weight_decay: 1e-3);
        using var held = Network();
        using var heldOptimizer = new HeldAdamW(held.parameters().ToList(), 0.05, 1e-3, cpuChunkLength: 48);
        var flat = heldOptimizer.Contiguous ?? throw new AssertFailedException("the optimizer keeps no flat buffers");
        var chunks = flat.Chunks(flat.Values);
        Assert.AreEqual(928, flat.Values.shape[0], "the flat buffer");
        Assert.AreEqual(20, chunks.Length, "chunks over the flat buffer");
        Assert.AreEqual(flat.Values.shape[0], chunks.Sum(c => c.shape[0]), "the chunks cover the buffer");
        Assert.AreEqual(928 - 19 * 48, chunks[^1].shape[0], "the last chunk is the rest");
        foreach (var chunk in chunks) chunk.Dispose();
        for (int step = 0; step < 4; step++)
        {
            Step(reference, referenceOptimizer, step);
            Step(held, heldOptimizer, step);
        }
        CollectionAssert.AreEqual(Values(reference), Values(held), "parameters bit for bit with TorchSharp's AdamW");
    }

    [TestMethod]
    public void AChunkLengthThatIsNotAPositiveMultipleOf16IsRefused()
    {
        using var network = Network();
        foreach (long length in new long[] { 0, -16, 40 })
        {
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ContiguousParameters.TryCreate(network.parameters(), length));
            Assert.AreEqual("cpuChunkLength", error.ParamName);
            StringAssert.StartsWith(error.Message, "A chunk is a positive multiple of 16 floats.");
        }
    }

    [TestMethod]
    public void ParametersThatCannotShareABufferAreUpdatedOneByOne()
    {
        using var network = Network();
        var parameters = network.parameters().ToList();
        parameters[0].requires_grad = false;
        Assert.IsNull(ContiguousParameters.TryCreate(parameters), "a frozen parameter");
        Assert.IsNull(ContiguousParameters.TryCreate([]), "none");
        Assert.IsNull(ContiguousParameters.TryCreate([parameters[1], parameters[1]]), "one listed twice");
        using var wide = nn.Linear(3, 2).to(ScalarType.Float64);
        Assert.IsNull(ContiguousParameters.TryCreate(wide.parameters()), "float64");

        using var reference = Network();
        reference.parameters().First().requires_grad = false;
        using var referenceOptimizer = optim.AdamW(reference.parameters(), 0.05, weight_decay: 1e-3);
        using var held = Network();
        held.parameters().First().requires_grad = false;
        using var heldOptimizer = Held(held);
        Assert.IsNull(heldOptimizer.Contiguous, "a frozen parameter among the optimizer's");
        for (int step = 0; step < 3; step++)
        {
            Step(reference, referenceOptimizer, step);
            Step(held, heldOptimizer, step);
        }
        CollectionAssert.AreEqual(Values(reference), Values(held), "the per-parameter fallback is TorchSharp's AdamW bit for bit");
    }
}
