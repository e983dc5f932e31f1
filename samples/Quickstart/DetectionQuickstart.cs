using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Visualization;

namespace Quickstart;

/// <summary>The detection quickstart: train a detector on the built-in shapes, evaluate on the held-out test split, save
/// and reload the ML.NET model, export ONNX, and draw predictions.</summary>
internal static class DetectionQuickstart
{
    public static int Run(QuickstartSettings settings)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(settings.Output);
        var ml = new MLContext(seed: 1);

        Console.WriteLine("Writing the built-in dataset (once) ...");
        var root = SyntheticShapesDataset.EnsureBuiltIn(settings.DataFolder);
        var voc = new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames };
        var train = ml.Data.LoadFromPascalVoc(root, "train", voc);
        var validation = ml.Data.LoadFromPascalVoc(root, "val", voc);
        var test = ml.Data.LoadFromPascalVoc(root, "test", voc);
        Console.WriteLine($"Dataset: {root}");

        var options = new SsdDetectorOptions
        {
            Architecture = settings.Architecture,
            InputWidth = 128, InputHeight = 128, GridSize = 8, WidthMultiplier = settings.WidthMultiplier,
            BatchSize = 8, Epochs = settings.Epochs, LearningRate = 2e-3, WarmupSteps = 100,
            Augmentation = new MLNetExtensions.Torch.Training.DetectionAugmentation(),
            ValidationData = validation, ValidateEveryEpochs = Math.Max(1, settings.Epochs / 6),
            CheckpointFolder = Path.Combine(settings.Output, "checkpoints"), CheckpointEverySteps = 500,
            ScoreThreshold = 0.05f, Device = DeviceSelection.Auto, Seed = 1, CpuThreads = settings.Threads,
            Progress = new ConsoleProgressBar(),
        };
        Console.WriteLine($"Training a {options.Architecture} detector ({options.Backbone}, {options.InputWidth}×{options.InputHeight}, {options.Epochs} epochs) ...");
        var estimator = ml.Transforms.TrainSsdDetector(options);
        var model = estimator.Fit(train);
        var history = estimator.LastHistory!;
        Console.WriteLine($"Trained in {clock.Elapsed:mm\\:ss}.");

        // Evaluate on the held-out test split.
        var scored = model.Transform(test);
        var metrics = ml.Detection().Evaluate(scored);
        Console.WriteLine(metrics);

        // Save, export, reload in the ML.NET way.
        string zip = Path.Combine(settings.Output, "model.zip"), onnx = Path.Combine(settings.Output, "model.onnx");
        ml.Model.Save(model, train.Schema, zip);
        model.ExportOnnx(onnx);
        File.WriteAllBytes(Path.Combine(settings.Output, "loss.png"), TrainingChart.Png(new Dictionary<string, IReadOnlyList<double>>
        {
            ["classification loss"] = history.Losses["classification"],
            ["localization loss"] = history.Losses["localization"],
        }, $"{options.Architecture} training on the built-in shapes"));
        int drawn = Drawings.Save(ml, scored, model.ClassNames, Path.Combine(settings.Output, "predictions"), count: 12);
        Console.WriteLine($"Wrote {zip}, {onnx}, loss.png, {drawn} images with predicted (coloured) and ground-truth (dashed) boxes in predictions/ and eight of them in predictions.png, in {settings.Output}.");

        var reloaded = DetectionTransformer.Load(new MLContext(seed: 2), zip);
        var one = Drawings.FirstRow(ml, reloaded.Transform(test));
        Console.WriteLine($"Reloaded model.zip and scored {Path.GetFileName(one.ImagePath)}: " +
                          string.Join(", ", one.Detections.Select(d => $"{reloaded.ClassNames[d.ClassIndex]} {d.Score:0.00} at [{d.XMin:0},{d.YMin:0},{d.XMax:0},{d.YMax:0}]")));

        Console.WriteLine();
        Console.WriteLine($"mAP@0.5 (VOC all-point) on the test split: {metrics.Voc.MeanAveragePrecision:F4}");
        Console.WriteLine($"COCO mAP@[.5:.95] on the test split:      {metrics.Coco.AveragePrecision:F4}");
        Console.WriteLine($"Total time: {clock.Elapsed:mm\\:ss}");
        return 0;
    }
}
