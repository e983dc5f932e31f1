using Microsoft.ML;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Detection.FasterRcnn;

/// <summary>Faster R-CNN through the estimator and the shared loop: it learns, resumes after a kill, and stops on NaN.</summary>
[TestClass]
public sealed class FasterRcnnTrainingTests
{
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    private sealed class Killed : Exception;

    [TestMethod]
    public void LearnsTheTinyShapes()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var options = FasterRcnnOnnxParityTests.TinyOptions() with { Progress = new SyncProgress(p => { if (p.Step < 5 || p.Step % 20 == 0) Console.WriteLine(p); }) };
        var before = ml.Detection().Evaluate(ml.Transforms.TrainFasterRcnnDetector(options with { MaxSteps = 1 }).Fit(train).Transform(train)).Voc.MeanAveragePrecision;
        var estimator = ml.Transforms.TrainFasterRcnnDetector(options);
        var model = estimator.Fit(train);
        var metrics = ml.Detection().Evaluate(model.Transform(train));
        var history = estimator.LastHistory!;
        foreach (var part in new[] { "rpn_objectness", "rpn_box", "roi_classification", "roi_box" })
        {
            double first = history.Mean(part, 20, last: false), last = history.Mean(part, 20, last: true);
            Console.WriteLine($"{part}: {first:F4} -> {last:F4}");
            Assert.IsLessThan(first * 0.7, last, $"{part} fell by at least 30%");
        }
        double accuracy = history.Mean("rpn_accuracy", 20, last: true);
        Console.WriteLine($"rpn_accuracy (last 20 steps) {accuracy:F4}; train mAP@0.5 {before:F3} -> {metrics.Voc.MeanAveragePrecision:F3}");
        Assert.IsGreaterThan(0.9, accuracy);
        Assert.IsGreaterThan(0.5, metrics.Voc.MeanAveragePrecision);
        Assert.IsGreaterThan(before + 0.3, metrics.Voc.MeanAveragePrecision);
    }

    [TestMethod]
    public void AKilledRunResumesFromItsCheckpointStep()
    {
        var ml = new MLContext(1);
        var train = DetectorTrainingTests.Load(ml, "train");
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "frcnn-resume-" + Guid.NewGuid().ToString("N")[..8]);
        var options = FasterRcnnOnnxParityTests.TinyOptions() with { MaxSteps = 14, CheckpointFolder = folder, CheckpointEverySteps = 5 };
        var steps = new List<int>();
        Assert.ThrowsExactly<Killed>(() => ml.Transforms.TrainFasterRcnnDetector(options with { Progress = new SyncProgress(p => { if (p.Step == 12) throw new Killed(); }) }).Fit(train));
        var estimator = ml.Transforms.TrainFasterRcnnDetector(options with { Progress = new SyncProgress(p => steps.Add(p.Step)) });
        estimator.Fit(train);
        CollectionAssert.AreEqual(Enumerable.Range(11, 4).ToList(), steps, "resumes after step 10, the last checkpoint");
        Assert.HasCount(14, estimator.LastHistory!.Losses["rpn_accuracy"]);
    }

    [TestMethod]
    public void ANonFiniteLossStopsWithTheStepNamed()
    {
        var ml = new MLContext(1);
        var options = FasterRcnnOnnxParityTests.TinyOptions() with { MaxSteps = 30, LearningRate = 1e6, WarmupSteps = 0, GradientClipNorm = null };
        var ex = Assert.ThrowsExactly<TrainingDivergedException>(() => ml.Transforms.TrainFasterRcnnDetector(options).Fit(DetectorTrainingTests.Load(ml, "train")));
        StringAssert.Matches(ex.Message, new System.Text.RegularExpressions.Regex(@"^The (loss became (NaN|-?Infinity|[-+]?∞) at step \d+ \(rpn_objectness |gradient was not finite for \d+ steps in a row, up to step \d+)"));
    }
}
