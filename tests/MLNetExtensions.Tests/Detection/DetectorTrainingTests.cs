using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Detection;

[TestClass]
public sealed class DetectorTrainingTests
{
    /// <summary>A tiny shapes set (64 px, at most two objects) that a small network learns in a couple of hundred steps.</summary>
    internal static string TinyShapes => SyntheticShapesDataset.Ensure(Path.Combine(Path.GetTempPath(), "mlnetext-tests-tiny-shapes"),
        new SyntheticShapesOptions { ImageSize = 64, TrainImages = 48, ValidationImages = 16, TestImages = 0, MaxObjectsPerImage = 2, MinObjectSize = 14, Seed = 3 });

    internal static IDataView Load(MLContext ml, string set)
        => ml.Data.LoadFromPascalVoc(TinyShapes, set, new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });

    internal static SsdDetectorOptions TinyOptions(DetectorArchitecture architecture) => new()
    {
        Architecture = architecture,
        InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, GridSize = 4,
        MinScale = 0.2f, BatchSize = 8, MaxSteps = 240, WarmupSteps = 20, LearningRate = 3e-3,
        Augmentation = null, Seed = 7, Device = MLNetExtensions.Torch.DeviceSelection.Cpu,
        ScoreThreshold = 0.05f,
    };

    [TestMethod]
    [DataRow(DetectorArchitecture.Ssd)]
    [DataRow(DetectorArchitecture.Grid)]
    public void LearnsTheTinyShapes(DetectorArchitecture architecture)
    {
        var ml = new MLContext(1);
        var train = Load(ml, "train");
        var options = TinyOptions(architecture) with { Progress = new SyncProgress(p => { if (p.Step < 12 || p.Step % 10 == 0) Console.WriteLine(p); }) };
        var before = ml.Detection().Evaluate(Score(ml, options with { MaxSteps = 1 }, train)).Voc.MeanAveragePrecision;
        var estimator = ml.Transforms.TrainSsdDetector(options);
        var model = estimator.Fit(train);
        var metrics = ml.Detection().Evaluate(model.Transform(train));
        var history = estimator.LastHistory!;
        double firstLoss = history.Mean("total", 20, last: false), lastLoss = history.Mean("total", 20, last: true);
        Console.WriteLine($"{architecture}: loss {firstLoss:F3} -> {lastLoss:F3}, train mAP@0.5 {before:F3} -> {metrics.Voc.MeanAveragePrecision:F3}");
        Assert.IsLessThan(firstLoss * 0.5, lastLoss, "the loss must at least halve");
        Assert.IsGreaterThan(0.5, metrics.Voc.MeanAveragePrecision);
        Assert.IsGreaterThan(before + 0.3, metrics.Voc.MeanAveragePrecision);
    }

    private static IDataView Score(MLContext ml, SsdDetectorOptions options, IDataView data)
        => ml.Transforms.TrainSsdDetector(options).Fit(data).Transform(data);

    private sealed class SyncProgress(Action<TrainingProgress> a) : IProgress<TrainingProgress> { public void Report(TrainingProgress p) => a(p); }
}
