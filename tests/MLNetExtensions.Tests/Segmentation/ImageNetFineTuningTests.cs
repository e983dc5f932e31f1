using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Evaluation;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

/// <summary>
/// The DeepLab fine-tuning case this library answers: a Keras user fine-tuned DeepLab v3+ on a pretrained backbone
/// with the backbone frozen and it learned nothing, because Keras's frozen BatchNorm kept normalising with mini-batch
/// statistics in training (and with its running statistics at inference). Here DeepLab v3+ on ML.NET's ImageNet
/// ResNet-18, frozen (eval-mode BatchNorm), trained on 200 built-in images for 150 steps of 8, is compared with the
/// same network from scratch and with the Keras behaviour (<see cref="DeepLabSegmenterOptions.FrozenBatchNormUsesBatchStatistics"/>).
/// </summary>
/// <remarks>
/// Measured on this 2-core machine, validation mean IoU (64 images) at seeds 1 and 2: frozen ImageNet backbone
/// 0.363 / 0.355, from scratch 0.192 / 0.217, Keras behaviour 0.330 / 0.269; mean IoU on its own training images (eval
/// mode): frozen 0.687 / 0.639, Keras 0.440 / 0.361. The asserted margins are half the smallest measured ones.
/// </remarks>
[TestClass]
public sealed class ImageNetFineTuningTests
{
    private const int Steps = 150;

    private static DeepLabSegmenterOptions Options(string kind)
    {
        var options = new DeepLabSegmenterOptions
        {
            ClassNames = SyntheticShapesDataset.SegmentationClassNames,
            Backbone = SegmentationBackboneKind.ResNet18, InputWidth = 64, InputHeight = 64,
            AsppChannels = 64, LowLevelChannels = 32, OutputStride = 16,
            Optimizer = OptimizerKind.Adam, LearningRate = 2e-3, WeightDecay = 1e-4,
            Loss = SegmentationLossKind.CrossEntropyAndDice, Augmentation = null,
            BatchSize = 8, MaxSteps = Steps, Seed = 1, Device = DeviceSelection.Cpu,
        };
        return kind == "scratch" ? options : options with
        {
            BackboneWeightsPath = PretrainedBackbone.ImageNetResNet18, Normalization = PixelNormalization.ImageNetMeanSubtraction,
            FreezeBackbone = true, FrozenBatchNormUsesBatchStatistics = kind == "keras",
        };
    }

    private sealed record Run(double ValidationMIoU, double TrainingMIoU, double FirstLoss, double LastLoss, DeepLabNetwork Network);

    private static Run Train(string kind)
    {
        var ml = new MLContext(1);
        var root = SharedDatasets.SyntheticShapes;
        var train = ml.Data.TakeRows(ml.Data.LoadFromPascalVocSegmentation(root, "train"), 200);
        var val = ml.Data.LoadFromPascalVocSegmentation(root, "val");
        var estimator = ml.Transforms.TrainDeepLabSegmenter(Options(kind));
        using var model = estimator.Fit(train);
        double MIoU(IDataView data) => ml.Segmentation().Evaluate(model.Transform(data), new SegmentationEvaluatorOptions { ClassNames = model.ClassNames }).MeanIoU;
        var history = estimator.LastHistory!;
        var run = new Run(MIoU(val), MIoU(train), history.Mean("total", 20, last: false), history.Mean("total", 20, last: true), estimator.LastNetwork!);
        Console.WriteLine($"{kind}: validation mIoU {run.ValidationMIoU:F3}, training mIoU {run.TrainingMIoU:F3}, loss {run.FirstLoss:F3} -> {run.LastLoss:F3}");
        return run;
    }

    /// <summary>Every backbone tensor (weights and BatchNorm statistics) after training is bit for bit the imported one.</summary>
    private static void AssertBackboneUntouched(DeepLabNetwork network, string kind)
    {
        var imported = ResNet18OnnxImporter.Import(PretrainedBackbone.ImageNetResNet18);
        var state = network.state_dict();
        int compared = 0;
        foreach (var (key, expected) in imported)
        {
            Assert.IsTrue(state[$"backbone.body.{key}"].IsSameAs(expected), $"{kind}: backbone.body.{key} changed in training");
            compared++;
            expected.Dispose();
        }
        Assert.AreEqual(110, compared, "the graph's 22 convolutions and 22 BatchNorms");
    }

    [TestMethod]
    public void AFrozenImageNetBackboneLearnsWhereFromScratchDoesNotAndKeepsItsStatistics()
    {
        var frozen = Train("frozen");
        var scratch = Train("scratch");
        Assert.IsLessThan(frozen.FirstLoss / 2, frozen.LastLoss, "the frozen run's loss halves");
        Assert.IsLessThan(scratch.FirstLoss, scratch.LastLoss, "the from-scratch run learns too, more slowly");
        Assert.IsGreaterThanOrEqualTo(scratch.ValidationMIoU + 0.07, frozen.ValidationMIoU,
            $"frozen ImageNet backbone {frozen.ValidationMIoU:F3} vs from scratch {scratch.ValidationMIoU:F3} (measured margins 0.17 and 0.14)");
        AssertBackboneUntouched(frozen.Network, "frozen");
    }

    [TestMethod]
    public void KerasFrozenBatchNormTrainsOnFeaturesItDoesNotSeeAtInference()
    {
        var frozen = Train("frozen");
        var keras = Train("keras");
        // Keras's training loss falls as well (it sees batch-normalised features), but in eval mode, with the running
        // statistics, the same training images come out far worse.
        Assert.IsLessThan(keras.FirstLoss / 2, keras.LastLoss);
        Assert.IsLessThanOrEqualTo(frozen.TrainingMIoU - 0.12, keras.TrainingMIoU,
            $"Keras behaviour {keras.TrainingMIoU:F3} vs frozen eval-mode BatchNorm {frozen.TrainingMIoU:F3} on the training images (measured margins 0.25 and 0.28)");
        Assert.IsTrue(keras.Network.FrozenBatchNormUsesBatchStatistics);
        AssertBackboneUntouched(keras.Network, "keras");
    }
}
