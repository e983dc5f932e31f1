using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The shared loop on a model family of its own: a linear fit y = 3x whose loss has two named parts and one figure,
/// so what the loop does with parts, figures, NaN, resume and validation is seen apart from any detector.
/// </summary>
[TestClass]
public sealed class TrainingLoopTests
{
    private sealed class LinearModel : ITrainableModel
    {
        public readonly TorchSharp.Modules.Linear Layer = nn.Linear(1, 1, hasBias: false);
        public nn.Module Network => Layer;
        public void Dispose() => Layer.Dispose();
    }

    private sealed record LinearOptions : TrainerOptions
    {
        public LinearOptions() : base(OptimizerKind.Sgd, learningRate: 0.1, weightDecay: 0, warmupSteps: 0, LearningRateDecay.None) { }
    }

    private sealed class LinearTask(float[] xs, double? nanAtStep = null, params int[] libtorchFailsAtCalls) : ITrainingTask<LinearModel>
    {
        public int LossCalls;
        public string LogSource => "linear";
        public string MetricName => "validation fit";
        public int Count => xs.Length;
        public bool HasValidation => true;
        public string Fingerprint => "linear";
        public IEnumerable<(string Name, object? Value)> FingerprintSettings => [("Points", string.Join(",", xs))];
        public LinearModel CreateModel(Device device) => new();

        public TrainingLoss Loss(LinearModel model, int step, int[] indices, Random rng, Device device)
        {
            LossCalls++;
            if (libtorchFailsAtCalls.Contains(LossCalls)) throw new System.Runtime.InteropServices.ExternalException(FinalizedScalarMessage);
            var x = tensor(indices.Select(i => xs[i]).ToArray()).reshape(-1, 1);       // (B, 1)
            var error = model.Layer.call(x) - 3 * x;
            var fit = error.pow(2).mean();
            var penalty = LossCalls == nanAtStep ? tensor(float.NaN) : model.Layer.weight!.abs().sum() * 0.01;
            return new TrainingLoss(fit + penalty, [("fit", fit), ("penalty", penalty)], [("close", error.abs().lt(0.1).to(ScalarType.Float32).mean())]);
        }

        public double Validate(LinearModel model, Device device) => -Math.Abs(model.Layer.weight!.item<float>() - 3);
        public byte[] Export(LinearModel model) => BitConverter.GetBytes(model.Layer.weight!.item<float>());
    }

    /// <summary>The first lines of the error libtorch raised here when the finalizer freed a temporary Scalar mid-run.</summary>
    private const string FinalizedScalarMessage = "Expected false to be true, but got false.  (Could this error message be improved?  " +
        "If so, please report an enhancement request to PyTorch.)\nException raised from toFloat at /pytorch/c10/core/Scalar.h:87 (most recent call first):";

    private static readonly float[] Xs = Enumerable.Range(1, 8).Select(i => i / 8f).ToArray();

    [TestMethod]
    public void NamedPartsAndFiguresAreReportedAndKeptAndTheModelLearns()
    {
        TorchRuntime.EnsureLoaded();
        var reports = new List<TrainingProgress>();
        var loop = new TrainingLoop(new LinearOptions { BatchSize = 4, MaxSteps = 40, Progress = new SyncProgress(reports.Add) }, null);
        var result = loop.Run(new LinearTask(Xs));

        CollectionAssert.AreEqual(new[] { "fit", "penalty", "total", "close" }, reports[0].Losses.Keys.ToArray(), "parts, then their total, then the figures");
        foreach (var r in reports) Assert.AreEqual(r.Losses["fit"] + r.Losses["penalty"], r.Losses["total"], 1e-6);
        Assert.HasCount(40, loop.History.Losses["close"]);
        Assert.IsLessThan(loop.History.Mean("fit", 4, last: false) / 100, loop.History.Mean("fit", 4, last: true), "the fit part fell a hundredfold");
        Assert.AreEqual(1.0, reports[^1].Losses["close"], "at the end every point is within 0.1");
        Assert.AreEqual(3f, BitConverter.ToSingle(result.Onnx), 0.05f);
        Assert.HasCount(20, loop.History.Validation, "an epoch is 2 steps and each is validated");
    }

    [TestMethod]
    public void CpuThreadsHoldsForTheRunAndTheCountBeforeIsPutBack()
    {
        // libtorch's thread count is process-wide: a run with CpuThreads = 1 once left every later Fit without the
        // option (and the rest of the process) on one thread, which changed what a later run computed.
        TorchRuntime.EnsureLoaded();
        int before = get_num_threads();
        Assert.IsGreaterThan(1, before, "the test needs a machine with more than one thread to tell the counts apart");
        var during = new List<int>();
        var loop = new TrainingLoop(new LinearOptions { BatchSize = 4, MaxSteps = 2, CpuThreads = 1, Progress = new SyncProgress(_ => during.Add(get_num_threads())) }, null);
        loop.Run(new LinearTask(Xs));
        Assert.IsNotEmpty(during, "progress was reported");
        Assert.IsTrue(during.All(n => n == 1), $"one thread while training: {string.Join(", ", during)}");
        Assert.AreEqual(before, get_num_threads(), "the count before, after the run");

        var failing = new TrainingLoop(new LinearOptions { BatchSize = 4, MaxSteps = 4, CpuThreads = 1 }, null);
        Assert.ThrowsExactly<TrainingDivergedException>(() => failing.Run(new LinearTask(Xs, nanAtStep: 1)));
        Assert.AreEqual(before, get_num_threads(), "the count before, after a failed run");
    }

    [TestMethod]
    public void ANonFiniteLossNamesTheStepAndThePart()
    {
        TorchRuntime.EnsureLoaded();
        var loop = new TrainingLoop(new LinearOptions { BatchSize = 4, MaxSteps = 10 }, null);
        var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => loop.Run(new LinearTask(Xs, nanAtStep: 3)));
        StringAssert.StartsWith(ex.Message, "The loss became NaN at step 3 (fit ");
        StringAssert.Contains(ex.Message, ", penalty NaN). Lower LearningRate (or set GradientClipNorm) and train again.");
    }

    [TestMethod]
    public void TheDivergenceHintSaysWhatWorks()
    {
        TorchRuntime.EnsureLoaded();
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "diverged-" + Guid.NewGuid().ToString("N")[..8]);
        var options = new LinearOptions { BatchSize = 4, MaxSteps = 10, CheckpointFolder = folder, CheckpointEverySteps = 2 };
        var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => new TrainingLoop(options, null).Run(new LinearTask(Xs, nanAtStep: 5)));
        string checkpoint = Path.Combine(Path.GetFullPath(folder), "step-00000004");
        StringAssert.EndsWith(ex.Message, $"Lower LearningRate (or set GradientClipNorm) and train again with another CheckpointFolder, or delete the checkpoints in '{Path.GetFullPath(folder)}' first: they resume only with these options, with which training diverges again at the same step.");

        // What the hint says works: another folder, or this one deleted. (Resuming it with a lower learning rate, the
        // earlier hint, is refused for every model family: CheckpointFaultTests.ACheckpointOfAnotherExperimentIsRefusedNamingEachDifference.)
        var lower = options with { LearningRate = 0.01 };
        var other = new TrainingLoop(lower with { CheckpointFolder = folder + "-lower" }, null);
        other.Run(new LinearTask(Xs));
        Assert.HasCount(10, other.History.Losses["total"], "another folder's run trains from step 1");
        Directory.Delete(folder, recursive: true);
        var again = new TrainingLoop(lower, null);
        again.Run(new LinearTask(Xs));
        Assert.HasCount(10, again.History.Losses["total"], "the deleted folder's run trains from step 1");

        // In the default folder (per options) a lower rate starts over by itself.
        var inDefault = options with { CheckpointFolder = null };
        var defaultEx = Assert.ThrowsExactly<TrainingDivergedException>(() => new TrainingLoop(inDefault, null).Run(new LinearTask(Xs, nanAtStep: 5)));
        StringAssert.Contains(defaultEx.Message, "Lower LearningRate (or set GradientClipNorm) and train again; that run starts over in a checkpoint folder of its own. The checkpoints in '");
        var fresh = new TrainingLoop(inDefault with { LearningRate = 0.01 }, null);
        fresh.Run(new LinearTask(Xs));
        Assert.HasCount(10, fresh.History.Losses["total"], "the lower rate trained from step 1 in a folder of its own");
        Directory.Delete(folder + "-lower", recursive: true);
    }

    [TestMethod]
    public void AKilledRunResumesFromItsLastCheckpointAndEndsOnTheSameModel()
    {
        TorchRuntime.EnsureLoaded();
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "loop-" + Guid.NewGuid().ToString("N")[..8]);
        var options = new LinearOptions { BatchSize = 4, MaxSteps = 12, CheckpointFolder = folder, CheckpointEverySteps = 5, ReturnBestValidatedModel = false };
        var whole = new TrainingLoop(options with { CheckpointFolder = null }, null).Run(new LinearTask(Xs)).Onnx;

        var killing = options with { Progress = new SyncProgress(p => { if (p.Step == 11) throw new OperationCanceledException(); }) };
        Assert.ThrowsExactly<OperationCanceledException>(() => new TrainingLoop(killing, null).Run(new LinearTask(Xs)));
        var task = new LinearTask(Xs);
        var loop = new TrainingLoop(options, null);
        var resumed = loop.Run(task).Onnx;
        Assert.AreEqual(2, task.LossCalls, "steps 11 and 12 after the checkpoint at step 10");
        Assert.HasCount(12, loop.History.Losses["total"]);
        CollectionAssert.AreEqual(whole, resumed);
    }

    [TestMethod]
    public void TheFinalizedScalarErrorIsRecoveredOnceFromTheLastCheckpointLoggedAndEndsOnTheSameModel()
    {
        TorchRuntime.EnsureLoaded();
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "loop-" + Guid.NewGuid().ToString("N")[..8]);
        var options = new LinearOptions { BatchSize = 4, MaxSteps = 12, CheckpointFolder = folder, CheckpointEverySteps = 5, ReturnBestValidatedModel = false };
        var whole = new TrainingLoop(options with { CheckpointFolder = null }, null).Run(new LinearTask(Xs)).Onnx;

        var warnings = new List<string>();
        var ml = new Microsoft.ML.MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
        var task = new LinearTask(Xs, null, 8);   // fails in step 8, after the checkpoint at step 5
        var loop = new TrainingLoop(options, ml);
        var recovered = loop.Run(task).Onnx;

        Assert.AreEqual(1, loop.Recoveries);
        Assert.AreEqual(7 + 1 + 7, task.LossCalls, "steps 1-7, the failed step 8, then steps 6-12 from the checkpoint at step 5");
        Assert.HasCount(12, loop.History.Losses["total"]);
        CollectionAssert.AreEqual(whole, recovered, "the same model as the uninterrupted run");
        var warning = warnings.Single(w => w.Contains("TorchSharp#1434"));
        StringAssert.Contains(warning, "libtorch failed mid-run (Expected false to be true, but got false.");
        StringAssert.EndsWith(warning, "Resuming from the last checkpoint (step 0 when there is none yet).");
    }

    [TestMethod]
    public void WithoutCheckpointsTheFinalizedScalarErrorRestartsFromStepZeroAndEndsOnTheSameModel()
    {
        TorchRuntime.EnsureLoaded();
        var options = new LinearOptions { BatchSize = 4, MaxSteps = 12, EnableCheckpoints = false, ReturnBestValidatedModel = false };
        var whole = new TrainingLoop(options, null).Run(new LinearTask(Xs)).Onnx;
        var task = new LinearTask(Xs, null, 5);
        var loop = new TrainingLoop(options, null);
        var recovered = loop.Run(task).Onnx;
        Assert.AreEqual(1, loop.Recoveries);
        Assert.AreEqual(5 + 12, task.LossCalls);
        Assert.HasCount(12, loop.History.Losses["total"], "nothing of the failed attempt is kept in the history");
        CollectionAssert.AreEqual(whole, recovered);
    }

    [TestMethod]
    public void ASecondFinalizedScalarErrorInOneRunPropagates()
    {
        TorchRuntime.EnsureLoaded();
        var options = new LinearOptions { BatchSize = 4, MaxSteps = 12, EnableCheckpoints = false };
        var task = new LinearTask(Xs, null, 3, 9);
        var ex = Assert.ThrowsExactly<System.Runtime.InteropServices.ExternalException>(() => new TrainingLoop(options, null).Run(task));
        Assert.AreEqual(FinalizedScalarMessage, ex.Message);
        Assert.AreEqual(9, task.LossCalls, "the second failure, in the restarted attempt, ends the run");
    }

    [TestMethod]
    public void OtherLibtorchErrorsAreNotRetried()
    {
        TorchRuntime.EnsureLoaded();
        Assert.IsFalse(TrainingLoop.IsFinalizedScalarError(new System.Runtime.InteropServices.ExternalException("shape '[2, 3]' is invalid for input of size 4")));
        Assert.IsFalse(TrainingLoop.IsFinalizedScalarError(new InvalidOperationException(FinalizedScalarMessage)));
        Assert.IsTrue(TrainingLoop.IsFinalizedScalarError(new System.Runtime.InteropServices.ExternalException(FinalizedScalarMessage)));
        // The same freed Scalar read by Scalar::type() (seen under the scalar-stress bench, in pow's type promotion).
        Assert.IsTrue(TrainingLoop.IsFinalizedScalarError(new System.Runtime.InteropServices.ExternalException(
            "Unknown scalar type.\nException raised from type at /pytorch/c10/core/Scalar.h:339 (most recent call first):")));
        Assert.IsFalse(TrainingLoop.IsFinalizedScalarError(new System.Runtime.InteropServices.ExternalException(
            "Expected false to be true, but got false.\nException raised from checkDim at /pytorch/aten/src/ATen/TensorUtils.cpp:12")));
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
