using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The held-Scalar optimizers compute exactly what TorchSharp's own do: the same parameters bit for bit after steps at
/// changing learning rates, and the same saved state (so checkpoints written before them still resume).
/// </summary>
[TestClass]
public sealed class HeldScalarOptimizerTests
{
    private static nn.Module<Tensor, Tensor> Network()
    {
        torch.manual_seed(11);
        return nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 6 * 6, 4));
    }

    private static optim.Optimizer TorchSharps(OptimizerKind kind, IEnumerable<TorchSharp.Modules.Parameter> parameters) => kind switch
    {
        OptimizerKind.Sgd => optim.SGD(parameters, 0.05, momentum: 0.9, weight_decay: 1e-3),
        OptimizerKind.Adadelta => optim.Adadelta(parameters, 0.05, weight_decay: 1e-3),
        _ => optim.AdamW(parameters, 0.05, weight_decay: 1e-3),
    };

    private static byte[] Trained(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, out byte[] state)
    {
        var rates = new[] { 0.05, 0.03, 0.01, 0.004, 0.001 };
        for (int step = 0; step < rates.Length; step++)
        {
            using var scope = NewDisposeScope();
            Optimizers.SetLearningRate(optimizer, rates[step]);
            optimizer.zero_grad();
            torch.manual_seed(100 + step);
            var x = randn(6, 3, 8, 8);
            var y = randn(6, 4);
            nn.functional.mse_loss(network.call(x), y).backward();
            optimizer.step();
        }
        using (var memory = new MemoryStream())
        {
            using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
                ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(writer);
            state = memory.ToArray();
        }
        return network.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).SelectMany(BitConverter.GetBytes).ToArray();
    }

    [TestMethod]
    [DataRow(OptimizerKind.Adam)]
    [DataRow(OptimizerKind.Sgd)]
    [DataRow(OptimizerKind.Adadelta)]
    public void TheSameParametersAndStateAsTorchSharpsOwnStep(OptimizerKind kind)
    {
        using var reference = Network();
        using var referenceOptimizer = TorchSharps(kind, reference.parameters());
        var expected = Trained(reference, referenceOptimizer, out var expectedState);
        using var held = Network();
        using var heldOptimizer = Optimizers.Create(held.parameters(), kind, 0.05, momentum: 0.9, weightDecay: 1e-3);
        Assert.AreNotEqual(referenceOptimizer.GetType(), heldOptimizer.GetType());
        var actual = Trained(held, heldOptimizer, out var actualState);
        CollectionAssert.AreEqual(expected, actual, $"{kind}: parameters bit for bit");

        CollectionAssert.AreEqual(expectedState, actualState, $"{kind}: saved optimizer state");
        using var untrained = Network();
        CollectionAssert.AreNotEqual(untrained.parameters().SelectMany(p => p.detach().data<float>().ToArray()).SelectMany(BitConverter.GetBytes).ToArray(), actual, "the steps moved the parameters");
    }
}
