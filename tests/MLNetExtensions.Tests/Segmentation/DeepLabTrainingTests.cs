using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Segmentation;

[TestClass]
public sealed class DeepLabTrainingTests
{
    /// <summary>The detector tests' tiny shapes set (64 px, at most two objects, 48 training images), as segmentation pairs.</summary>
    internal static IDataView Load(MLContext ml, string set) => ml.Data.LoadFromPascalVocSegmentation(DetectorTrainingTests.TinyShapes, set);

    internal static DeepLabSegmenterOptions TinyOptions() => new()
    {
        ClassNames = SyntheticShapesDataset.SegmentationClassNames,
        InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.25f, AsppChannels = 32, LowLevelChannels = 16,
        BatchSize = 8, MaxSteps = 150, Optimizer = OptimizerKind.Adam, LearningRate = 5e-3, Loss = SegmentationLossKind.CrossEntropyAndDice, WeightDecay = 1e-4,
        Augmentation = null, Seed = 5, Device = MLNetExtensions.Torch.DeviceSelection.Cpu,
    };

    internal static SegmentationMetrics Evaluate(MLContext ml, SegmentationTransformer model, IDataView data)
        => ml.Segmentation().Evaluate(model.Transform(data), new SegmentationEvaluatorOptions { ClassNames = SyntheticShapesDataset.SegmentationClassNames });

    /// <summary>
    /// 150 steps of batch 8 (about 25 epochs of the 48 images) with CE + Dice: about 45 s on two idle cores.
    /// </summary>
    [TestMethod]
    public void LearnsTheTinyShapes()
    {
        var ml = new MLContext(1);
        var train = Load(ml, "train");
        var clock = Stopwatch.StartNew();
                var estimator = ml.Transforms.TrainDeepLabSegmenter(TinyOptions() with { Progress = new SyncProgress(p => { if (p.Step % 20 == 0) Console.WriteLine(p); }) });
        var model = estimator.Fit(train);
        var metrics = Evaluate(ml, model, train);
        var history = estimator.LastHistory!;
        double firstLoss = history.Mean("total", 10, last: false), lastLoss = history.Mean("total", 10, last: true);
        Console.WriteLine($"loss {firstLoss:F3} -> {lastLoss:F3}, train mIoU {metrics.MeanIoU:F3} in {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine(metrics);
        Assert.IsLessThan(firstLoss * 0.4, lastLoss, "the loss must fall below 40% of its start");
        // mIoU averages the IoU of the 6 classes present (background + 5 shapes): any constant prediction scores at most
        // 1/6 (IoU 0 on five classes). 150 steps reach about 0.77 here (CPU, seed 5); 0.6 is far above every constant
        // or background-only predictor and leaves room for other CPUs' numerics.
        Assert.IsGreaterThan(0.6, metrics.MeanIoU);
    }

    [TestMethod]
    public void TheBestValidatedModelSurvivesAResume()
    {
        var ml = new MLContext(1);
        var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "deeplab-best-" + Guid.NewGuid().ToString("N")[..8]);
        // A learning rate too small to change the weights: both validations score the same (0.0052 here), so the first
        // stays the best and the returned model is not the last step's, whose BatchNorm statistics moved on.
        var options = TinyOptions() with
        {
            MaxSteps = 12, LearningRate = 1e-12, ValidationData = Load(ml, "val"), CheckpointFolder = folder, CheckpointEverySteps = 6,
        };
        var estimator = ml.Transforms.TrainDeepLabSegmenter(options);
        var trained = estimator.Fit(Load(ml, "train")).OnnxModel;
        var validations = estimator.LastHistory!.Validation.Select(v => v.Metric).ToList();
        Assert.HasCount(2, validations);
        Assert.IsFalse(validations.Skip(1).Any(m => m > validations[0]), "the first validation is the best");
        CollectionAssert.AreEqual(trained, File.ReadAllBytes(Path.Combine(folder, "best.onnx")), "the returned model is the best validated one, kept beside the checkpoints");
        var again = ml.Transforms.TrainDeepLabSegmenter(options).Fit(Load(ml, "train")).OnnxModel;
        CollectionAssert.AreEqual(trained, again, "resuming the finished run returns the same best model");
    }

    private sealed class SyncProgress(Action<TrainingProgress> a) : IProgress<TrainingProgress> { public void Report(TrainingProgress p) => a(p); }
}
