using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// Checkpoints as faults meet them: a folder that cannot be written or a full disk (found before the first step), the
/// default folder under the user's local data, a checkpoint of another experiment (each difference named), and what
/// Fit frees when it returns.
/// </summary>
[TestClass]
public sealed class CheckpointFaultTests
{
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    private sealed class Killed : Exception;

    internal static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), "mlnetext-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    private static SsdDetectorOptions Tiny(int steps) => DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = steps, WarmupSteps = 0 };

    /// <summary>The default checkpoint folders of the SSD estimator under the suite's local data folder.</summary>
    private static string[] DefaultFolders()
    {
        var root = Path.Combine(TestEnvironment.DataHome, "MLNetExtensions", "checkpoints");
        return Directory.Exists(root) ? Directory.GetDirectories(root, "SsdDetectorEstimator-*") : [];
    }

    [TestMethod]
    public void AFolderThatCannotBeWrittenFailsBeforeTheFirstStep()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        // Root may write anywhere on a disk; a folder below a regular file cannot be made by anyone.
        var file = Path.Combine(TempFolder("not-a-folder"), "file.txt");
        File.WriteAllText(file, "a file, not a folder");
        var folder = Path.Combine(file, "checkpoints");
        var steps = new List<int>();
        var options = Tiny(30) with { CheckpointFolder = folder, CheckpointEverySteps = 10, Progress = new SyncProgress(p => steps.Add(p.Step)) };
        var ex = Assert.ThrowsExactly<IOException>(() => ml.Transforms.TrainSsdDetector(options).Fit(train));
        StringAssert.StartsWith(ex.Message, $"The checkpoint folder '{folder}' cannot be written (DirectoryNotFoundException: ");
        StringAssert.EndsWith(ex.Message, "). Set CheckpointFolder to a writable folder with room, or EnableCheckpoints = false to train without checkpoints (a crash then loses the run).");
        Assert.IsEmpty(steps, "no step ran: the folder is checked before training starts");
        Assert.AreEqual("a file, not a folder", File.ReadAllText(file));
    }

    [TestMethod]
    public void AFullDiskFailsBeforeTheFirstStep()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("full-disk");
        var steps = new List<int>();
        var options = Tiny(30) with { CheckpointFolder = folder, Progress = new SyncProgress(p => steps.Add(p.Step)) };
        CheckpointStore.FreeSpaceForTests = _ => 100_000;
        try
        {
            var ex = Assert.ThrowsExactly<IOException>(() => ml.Transforms.TrainSsdDetector(options).Fit(train));
            StringAssert.StartsWith(ex.Message, $"The checkpoint folder '{Path.GetFullPath(folder)}' has 0.1 MB free, but its checkpoints need about ");
            StringAssert.Contains(ex.Message, " MB (2 kept and one being written, ");
            StringAssert.EndsWith(ex.Message, " MB each). Free space on that disk, or set CheckpointFolder to a writable folder with room, or EnableCheckpoints = false to train without checkpoints (a crash then loses the run).");
            Assert.IsEmpty(steps, "no step ran");
            Assert.IsEmpty(Directory.GetFileSystemEntries(folder), "nothing was left in the folder");
        }
        finally { CheckpointStore.FreeSpaceForTests = null; }
    }

    [TestMethod]
    public void CheckpointsAreOnByDefaultUnderLocalDataAndAFinishedRunRemovesThem()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        foreach (var stale in DefaultFolders()) Directory.Delete(stale, recursive: true);
        var options = Tiny(30) with { CheckpointEverySteps = 10, Seed = 11 };

        var seen = new List<string>();
        var killing = options with { Progress = new SyncProgress(p => { if (p.Step == 25) { seen.AddRange(DefaultFolders()); throw new Killed(); } }) };
        Assert.ThrowsExactly<Killed>(() => ml.Transforms.TrainSsdDetector(killing).Fit(train));
        Assert.HasCount(1, seen, "one default folder for these options and data");
        Assert.IsTrue(File.Exists(Path.Combine(seen[0], "latest.json")));
        Assert.IsTrue(Directory.Exists(Path.Combine(seen[0], "step-00000020")));

        var steps = new List<int>();
        var estimator = ml.Transforms.TrainSsdDetector(options with { Progress = new SyncProgress(p => steps.Add(p.Step)) });
        var resumed = estimator.Fit(train).OnnxModel;
        CollectionAssert.AreEqual(Enumerable.Range(21, 10).ToList(), steps, "the crashed run resumes from the default folder after step 20");
        Assert.IsEmpty(DefaultFolders(), "a finished run leaves nothing in the user's data folder");
        var whole = ml.Transforms.TrainSsdDetector(options with { EnableCheckpoints = false }).Fit(train).OnnxModel;
        CollectionAssert.AreEqual(whole, resumed, "the resumed run ends on the uninterrupted run's model");
        Assert.IsEmpty(DefaultFolders(), "EnableCheckpoints = false writes nothing");

        var both = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainSsdDetector(options with { EnableCheckpoints = false, CheckpointFolder = "/tmp/x" }));
        StringAssert.StartsWith(both.Message, "CheckpointFolder ('/tmp/x') is set but EnableCheckpoints is false; leave CheckpointFolder null to train without checkpoints, or set EnableCheckpoints to true.");
    }

    [TestMethod]
    public void ACheckpointOfAnotherExperimentIsRefusedNamingEachDifference()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("experiment");
        var options = Tiny(4) with { CheckpointFolder = folder, CheckpointEverySteps = 2 };
        ml.Transforms.TrainSsdDetector(options).Fit(train);

        string Refusal(SsdDetectorOptions other, IDataView? data = null)
        {
            var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Transforms.TrainSsdDetector(other).Fit(data ?? train));
            StringAssert.StartsWith(ex.Message, $"The checkpoint in '{Path.Combine(Path.GetFullPath(folder), "step-00000004")}' was made with other options or data than this run: ");
            StringAssert.EndsWith(ex.Message, ". Use the checkpoint's options and data to resume, or another CheckpointFolder (or delete this one) to start over.");
            return ex.Message;
        }

        StringAssert.Contains(Refusal(options with { Seed = 8 }), ": Seed 7 in the checkpoint, 8 in this run.");
        // A lower learning rate does not resume either (so the divergence hint says to train again, not to resume).
        StringAssert.Contains(Refusal(options with { LearningRate = 1e-3 }), ": network 'lr=0.003' in the checkpoint, 'lr=0.001' in this run.");
        StringAssert.Contains(Refusal(options with { MaxSteps = 6 }), ": Steps 4 in the checkpoint, 6 in this run.");
        StringAssert.Contains(Refusal(options with { WeightDecay = 0.01 }), ": WeightDecay 0.0005 in the checkpoint, 0.01 in this run.");
        StringAssert.Contains(Refusal(options with { Momentum = 0.5 }), ": Momentum 0.9 in the checkpoint, 0.5 in this run.");
        StringAssert.Contains(Refusal(options with { LearningRateDecay = LearningRateDecay.None }), ": LearningRateDecay Cosine in the checkpoint, None in this run.");
        StringAssert.Contains(Refusal(options with { MatchIouThreshold = 0.4f }), ": MatchIouThreshold 0.5 in the checkpoint, 0.4 in this run.");
        StringAssert.Contains(Refusal(options with { Augmentation = new DetectionAugmentation() }), ": Augmentation none in the checkpoint, DetectionAugmentation { HorizontalFlip = True, ");
        var two = Refusal(options with { Seed = 9, NegativePositiveRatio = 5 });
        StringAssert.Contains(two, ": Seed 7 in the checkpoint, 9 in this run; NegativePositiveRatio 3 in the checkpoint, 5 in this run.");

        // Other training data under the same class names: the first 40 images instead of all 48.
        var records = DetectionDataView.ReadRecords(train).Take(40).ToList();
        var fewer = DetectionDataView.Create(ml, records, MLNetExtensions.Data.Synthetic.SyntheticShapesDataset.ClassNames);
        StringAssert.Matches(Refusal(options, fewer), new System.Text.RegularExpressions.Regex(@": TrainingData [0-9a-f]{16} in the checkpoint, [0-9a-f]{16} in this run\."));
    }

    [TestMethod]
    public void ACheckpointFromBeforeTheRunSettingsWereRecordedStillResumes()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("legacy");
        var options = Tiny(4) with { CheckpointFolder = folder, CheckpointEverySteps = 2 };
        var trained = ml.Transforms.TrainSsdDetector(options).Fit(train).OnnxModel;
        // Rewrite the checkpoint's fingerprint as the earlier releases wrote it: the network description alone.
        var state = Path.Combine(folder, "step-00000004", "state.json");
        var json = JsonNode.Parse(File.ReadAllText(state))!;
        string fingerprint = json["Fingerprint"]!.GetValue<string>();
        json["Fingerprint"] = fingerprint[..fingerprint.IndexOf("|run:", StringComparison.Ordinal)];
        File.WriteAllText(state, json.ToJsonString());

        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) messages.Add(e.Message); };
        var steps = new List<int>();
        var again = ml.Transforms.TrainSsdDetector(options with { Progress = new SyncProgress(p => steps.Add(p.Step)) }).Fit(train).OnnxModel;
        Assert.IsEmpty(steps, "the finished run resumed: no step ran");
        CollectionAssert.AreEqual(trained, again);
        Assert.IsTrue(messages.Any(m => m.Contains("predates the checks of the seed, schedule, length, loss, augmentation and training data")), string.Join("\n", messages));

        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Transforms.TrainSsdDetector(options with { InputWidth = 96, InputHeight = 96 }).Fit(train));
        StringAssert.Contains(ex.Message, ": network '64x64' in the checkpoint, '96x96' in this run.");
    }

    [TestMethod]
    public void ResumingAFinishedRunRunsNoStepAndReturnsTheSameModel()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("finished");
        var options = Tiny(6) with { CheckpointFolder = folder, CheckpointEverySteps = 3 };
        var trained = ml.Transforms.TrainSsdDetector(options).Fit(train).OnnxModel;
        var steps = new List<int>();
        var estimator = ml.Transforms.TrainSsdDetector(options with { Progress = new SyncProgress(p => steps.Add(p.Step)) });
        var again = estimator.Fit(train).OnnxModel;
        Assert.IsEmpty(steps, "no step ran: the run was resumed at its end, not trained again");
        Assert.HasCount(6, estimator.LastHistory!.Losses["total"], "the history comes back from the checkpoint");
        CollectionAssert.AreEqual(trained, again);
    }

    [TestMethod]
    public void DisposeWaitsForARunningScoreBatched()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var detector = ml.Transforms.TrainSsdDetector(Tiny(2) with { EnableCheckpoints = false }).Fit(train);
        var images = Enumerable.Repeat(MLNetExtensions.Tests.Scoring.TinyTrainedDetector.Images(8), 25).SelectMany(i => i).ToArray();
        var reading = new ManualResetEventSlim();
        IEnumerable<ImageInput> Rows()
        {
            reading.Set();   // ScoreBatched has started reading its input
            foreach (var p in images) yield return new ImageInput { ImagePath = p };
        }
        var input = ml.Data.LoadFromEnumerable(Rows());
        var scoring = Task.Run(() => detector.ScoreBatched(input, batchSize: 4).Preview(maxRows: 1000).RowView.Length);
        reading.Wait();
        detector.Dispose();   // waits for the running ScoreBatched instead of freeing its session under it
        Assert.AreEqual(200, scoring.Result, "every row was scored");
        Assert.ThrowsExactly<ObjectDisposedException>(() => detector.ScoreBatched(input));
    }
}
