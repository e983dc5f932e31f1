using Microsoft.ML;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// What a detector's <c>Fit</c> leaves of TorchSharp: nothing but what TorchSharp's own <c>Conv2d</c> constructor leaves.
/// Counted with <see cref="DisposeScopeManager.Statistics"/>' live count on the training thread, which only a
/// <c>Dispose</c> on that thread lowers: a tensor left to the finalizer stays counted, so the count does not depend on
/// when the GC runs. (<c>Tensor.TotalCount</c> cannot be used: it keeps one per <c>Parameter</c> ever made, since a
/// Parameter takes over its tensor's handle without lowering the count.)
/// </summary>
[TestClass]
public sealed class FitFreesTensorsTests
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>What one <c>Conv2d</c> with a bias leaves counted after it is made and disposed: its reset_parameters
    /// leaves a temporary to the finalizer (measured: 1; a Conv2d without a bias, Linear and BatchNorm2d leave 0).</summary>
    private static long LeftByABiasedConv()
    {
        long before = Live;
        nn.Conv2d(4, 4, 3, bias: true).Dispose();
        return Live - before;
    }

    [TestMethod]
    [DataRow(DetectorArchitecture.Ssd, false, false)]
    [DataRow(DetectorArchitecture.Ssd, true, true)]    // the weights' average, checkpoints and Adam's moments
    [DataRow(DetectorArchitecture.Grid, false, false)]
    public void FitFreesTheNetworkItsAverageAndTheOptimizer(DetectorArchitecture architecture, bool ema, bool checkpointsAndAdam)
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var options = DetectorTrainingTests.TinyOptions(architecture) with { MaxSteps = 4, WarmupSteps = 0, EnableCheckpoints = false };
        if (ema) options = options with { ModelEmaDecay = 0.99 };
        if (checkpointsAndAdam) options = options with { Optimizer = OptimizerKind.Adam, EnableCheckpoints = true, CheckpointFolder = CheckpointFaultTests.TempFolder("frees"), CheckpointEverySteps = 2 };
        ml.Transforms.TrainSsdDetector(options with { EnableCheckpoints = false, CheckpointFolder = null }).Fit(train).Dispose();   // TorchSharp's first-use state

        long biasedConvs;
        using (var probe = options.CreateModel(SyntheticClasses, CPU))
            biasedConvs = probe.Network.modules().OfType<Conv2d>().Count(c => c.bias is not null);
        long expected = (ema ? 2 : 1) * biasedConvs * LeftByABiasedConv();

        long before = Live;
        ml.Transforms.TrainSsdDetector(options).Fit(train).Dispose();
        long left = Live - before;
        Console.WriteLine($"{architecture}: {left} tensors left counted after Fit; {biasedConvs} biased Conv2d per network, {expected} expected from TorchSharp's constructor");
        Assert.IsGreaterThan(0, biasedConvs, "the heads have biased convolutions");
        Assert.AreEqual(expected, left, "Fit disposes the network, its average, the optimizer and every tensor of its own (default boxes...)");
    }

    private const int SyntheticClasses = 5;
}
