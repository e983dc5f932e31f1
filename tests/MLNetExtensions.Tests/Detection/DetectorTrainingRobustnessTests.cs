using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Detection;

[TestClass]
public sealed class DetectorTrainingRobustnessTests
{
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    private sealed class Killed : Exception;

    private static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), "mlnetext-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    [TestMethod]
    public void KilledTrainingResumesFromTheLastCheckpointStep()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("resume");
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 30, CheckpointFolder = folder, CheckpointEverySteps = 10 };

        var steps = new List<int>();
        var killing = options with { Progress = new SyncProgress(p => { steps.Add(p.Step); if (p.Step == 25) throw new Killed(); }) };
        Assert.ThrowsExactly<Killed>(() => ml.Transforms.TrainSsdDetector(killing).Fit(train));
        CollectionAssert.AreEqual(Enumerable.Range(1, 25).ToList(), steps);
        Assert.IsTrue(File.Exists(Path.Combine(folder, "latest.json")));

        steps.Clear();
        var resuming = options with { Progress = new SyncProgress(p => steps.Add(p.Step)) };
        var estimator = ml.Transforms.TrainSsdDetector(resuming);
        estimator.Fit(train);
        CollectionAssert.AreEqual(Enumerable.Range(21, 10).ToList(), steps, "resumes after step 20, the last checkpoint");
        Assert.HasCount(30, estimator.LastHistory!.Losses["total"], "the history of the first 20 steps comes back from the checkpoint");
    }

    [TestMethod]
    public void TheWeightsAverageIsWhatIsExportedAndResumesWithTheCheckpoint()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 30, CheckpointEverySteps = 10, ModelEmaDecay = 0.9 };
        var whole = ml.Transforms.TrainSsdDetector(options with { CheckpointFolder = TempFolder("ema-whole") }).Fit(train).OnnxModel;
        var last = ml.Transforms.TrainSsdDetector(options with { ModelEmaDecay = null }).Fit(train).OnnxModel;
        Assert.IsFalse(whole.AsSpan().SequenceEqual(last), "the average, not the last step's weights, is exported");

        var folder = TempFolder("ema-resume");
        var killing = options with { CheckpointFolder = folder, Progress = new SyncProgress(p => { if (p.Step == 25) throw new Killed(); }) };
        Assert.ThrowsExactly<Killed>(() => ml.Transforms.TrainSsdDetector(killing).Fit(train));
        Assert.IsTrue(File.Exists(Path.Combine(folder, "step-00000020", "average.bin")));
        var resumed = ml.Transforms.TrainSsdDetector(options with { CheckpointFolder = folder }).Fit(train).OnnxModel;
        CollectionAssert.AreEqual(whole, resumed, "killed at step 25 and resumed from step 20, the run ends with the same averaged weights");
    }

    /// <summary>Four validations (24 steps of 6-step epochs) with a score threshold nothing reaches this early: every
    /// validation scores 0, so the first one stays the best and the best model is not the last step's.</summary>
    private static SsdDetectorOptions FirstValidationStaysBest(MLContext ml) => DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
    {
        MaxSteps = 24, ValidationData = DetectorTrainingTests.Load(ml, "val"), ScoreThreshold = 0.9999f,
    };

    [TestMethod]
    public void TheBestValidatedModelSurvivesAResume()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("best");
        var options = FirstValidationStaysBest(ml) with { CheckpointFolder = folder, CheckpointEverySteps = 6 };
        var estimator = ml.Transforms.TrainSsdDetector(options);
        var trained = estimator.Fit(train).OnnxModel;
        var validations = estimator.LastHistory!.Validation.Select(v => v.Metric).ToList();
        Assert.HasCount(4, validations);
        Assert.IsFalse(validations.Skip(1).Any(m => m > validations[0]), "the first validation is the best");
        CollectionAssert.AreEqual(trained, File.ReadAllBytes(Path.Combine(folder, "best.onnx")), "the returned model is the best validated one, kept beside the checkpoints");
        var again = ml.Transforms.TrainSsdDetector(options).Fit(train).OnnxModel;
        CollectionAssert.AreEqual(trained, again, "resuming the finished run returns the same best model");
    }

    [TestMethod]
    public void WithoutReturnBestValidatedModelTheLastWeightsAreReturned()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var options = FirstValidationStaysBest(ml) with { ReturnBestValidatedModel = false };
        var last = ml.Transforms.TrainSsdDetector(options).Fit(train).OnnxModel;
        var unvalidated = ml.Transforms.TrainSsdDetector(options with { ValidationData = null }).Fit(train).OnnxModel;
        var best = ml.Transforms.TrainSsdDetector(options with { ReturnBestValidatedModel = true }).Fit(train).OnnxModel;
        CollectionAssert.AreEqual(unvalidated, last, "validation only reports: the last weights come back");
        Assert.IsFalse(best.AsSpan().SequenceEqual(last), "by default the first, best validated model comes back");
    }

    [TestMethod]
    public void CheckpointOfOtherOptionsIsRefused()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("fingerprint");
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 2, CheckpointFolder = folder, CheckpointEverySteps = 1 };
        ml.Transforms.TrainSsdDetector(options).Fit(train);
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => ml.Transforms.TrainSsdDetector(options with { InputWidth = 96, InputHeight = 96 }).Fit(train));
        StringAssert.Contains(ex.Message, "was made with other options");
        StringAssert.Contains(ex.Message, folder);
    }

    [TestMethod]
    public void NaNLossStopsWithTheStepAndKeepsTheLastCheckpoint()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = TempFolder("nan");
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with
        {
            MaxSteps = 200, WarmupSteps = 0, LearningRate = 1e8, GradientClipNorm = null, Optimizer = OptimizerKind.Sgd, Momentum = 0.9,
            CheckpointFolder = folder, CheckpointEverySteps = 1,
        };
        var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => ml.Transforms.TrainSsdDetector(options).Fit(train));
        StringAssert.Matches(ex.Message, new System.Text.RegularExpressions.Regex(@"^The (loss became NaN|loss became [-+]?∞|loss became -?Infinity|gradient was not finite).* at step \d+|^The gradient was not finite for \d+ steps in a row, up to step \d+"));
        StringAssert.Contains(ex.Message, $"Lower LearningRate (or set GradientClipNorm) and train again with another CheckpointFolder, or delete the checkpoints in '{folder}' first");
        Assert.IsTrue(File.Exists(Path.Combine(folder, "latest.json")), "finished work is kept");
    }

    [TestMethod]
    public void WrongColumnsFailAtFitNamingTheColumn()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var missing = ml.Transforms.TrainSsdDetector(DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { BoxesColumn = "Bboxes" });
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => missing.Fit(train));
        StringAssert.StartsWith(ex.Message, "Column 'Bboxes' not found; it must be a vector of float (N×4 box corners in pixels).");

        var wrongType = ml.Transforms.TrainSsdDetector(DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { LabelsColumn = DetectionColumns.Boxes });
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => wrongType.Fit(train));
        StringAssert.StartsWith(ex.Message, "Column 'Boxes' must be a vector of keys (class indices with the class names as key values), but is a vector of Single.");

        var shape = ml.Transforms.TrainSsdDetector(DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { ImagePathColumn = "Path" });
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => shape.GetOutputSchema(MLNetExtensions.Transforms.Internal.SchemaShapes.Create(train.Schema)));
        StringAssert.StartsWith(ex.Message, "Column 'Path' not found; it must be text (the image file path).");
    }

    [TestMethod]
    public void BadOptionsFailWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(1);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainSsdDetector(new SsdDetectorOptions { BatchSize = 0 }));
        StringAssert.StartsWith(ex.Message, "BatchSize must be at least 1.");
        var fusion = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.TrainSsdDetector(
            new SsdDetectorOptions { Architecture = DetectorArchitecture.Grid, TopDownFusion = true }));
        StringAssert.StartsWith(fusion.Message, "TopDownFusion fuses SSD's stride-16 map into its stride-8 map; the Grid detector has one map. Leave it false or set Architecture to Ssd.");
        var band = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainSsdDetector(
            new SsdDetectorOptions { MatchIouThreshold = 0.5f, IgnoreIouThreshold = 0.6f }));
        StringAssert.StartsWith(band.Message, "IgnoreIouThreshold must be within (0, MatchIouThreshold = 0.5] when set.");
        var ema = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainSsdDetector(new SsdDetectorOptions { ModelEmaDecay = 1 }));
        StringAssert.StartsWith(ema.Message, "ModelEmaDecay must be within (0, 1) when set.");
    }

    [TestMethod]
    public void ImagesWithoutBoxesAreNegativesAndMissingImagesAreNamed()
    {
        var ml = new MLContext(1);
        var records = DetectionDataView.ReadRecords(DetectorTrainingTests.Load(ml, "train")).Take(8).ToList();
        var withEmpty = records.Append(new DetectionRecord(records[0].ImagePath, [], [])).ToList();
        var data = DetectionDataView.Create(ml, withEmpty, SyntheticShapesDataset.ClassNames);
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 3, BatchSize = 9 };
        ml.Transforms.TrainSsdDetector(options).Fit(data);   // no exception: an image without boxes is a valid negative

        var missing = records.Append(new DetectionRecord("/nonexistent/image.png", [new BoundingBox(1, 1, 5, 5)], ["circle"])).ToList();
        var bad = DetectionDataView.Create(ml, missing, SyntheticShapesDataset.ClassNames);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainSsdDetector(options).Fit(bad));
        StringAssert.StartsWith(ex.Message, "Row 8 of the training data: image '/nonexistent/image.png' cannot be read:");

        var outside = records.Take(1).Append(new DetectionRecord(records[0].ImagePath, [new BoundingBox(10, 10, 500, 20)], ["circle"])).ToList();
        ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainSsdDetector(options).Fit(DetectionDataView.Create(ml, outside, SyntheticShapesDataset.ClassNames)));
        StringAssert.Contains(ex.Message, "Row 1 of the training data");
        StringAssert.Contains(ex.Message, "box 0 [10, 10, 500, 20] lies outside the 64×64 image");
    }

    [TestMethod]
    public void CpuThreadsIsPutBackWhenFitFailsOnItsData()
    {
        // libtorch's thread count is process-wide: a Fit with CpuThreads = 1 whose data failed its row check (before the
        // run starts) once left the whole process on one thread.
        TorchRuntime.EnsureLoaded();
        int before = TorchSharp.torch.get_num_threads();
        Assert.IsGreaterThan(1, before, "the test needs a machine with more than one thread to tell the counts apart");
        var ml = new MLContext(1);
        var records = DetectionDataView.ReadRecords(DetectorTrainingTests.Load(ml, "train")).Take(4)
            .Append(new DetectionRecord("/nonexistent/image.png", [new BoundingBox(1, 1, 5, 5)], ["circle"])).ToList();
        var bad = DetectionDataView.Create(ml, records, SyntheticShapesDataset.ClassNames);
        var options = DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 1, CpuThreads = 1 };
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => ml.Transforms.TrainSsdDetector(options).Fit(bad));
        StringAssert.StartsWith(ex.Message, "Row 4 of the training data: image '/nonexistent/image.png' cannot be read:");
        Assert.AreEqual(before, TorchSharp.torch.get_num_threads(), "libtorch's thread count after the failed Fit");
    }
}
