using Microsoft.ML;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Tests.Training;

/// <summary>The options every trainer shares are checked once, in <see cref="TrainerOptions"/>, with the same messages for every family.</summary>
[TestClass]
public sealed class TrainerOptionsTests
{
    public static IEnumerable<object[]> Families() =>
    [
        [new SsdDetectorOptions()],
        [new DeepLabSegmenterOptions()],
    ];

    private static void Fails(TrainerOptions options, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(options.Validate);
        StringAssert.StartsWith(ex.Message, expected);
    }

    [TestMethod]
    [DynamicData(nameof(Families))]
    public void SharedOptionsFailWithTheSameMessageInEveryFamily(TrainerOptions defaults)
    {
        defaults.Validate();
        Fails(defaults with { Optimizer = (OptimizerKind)7 }, "Optimizer is unknown.");
        Fails(defaults with { LearningRateDecay = (LearningRateDecay)9 }, "LearningRateDecay is unknown.");
        Fails(defaults with { Device = (DeviceSelection)5 }, "Device is unknown.");
        Fails(defaults with { LearningRate = double.NaN }, "LearningRate must be positive.");
        Fails(defaults with { ModelEmaDecay = 1.0 }, "ModelEmaDecay must be within (0, 1) when set.");
        Fails(defaults with { Epochs = 0 }, "Epochs must be at least 1.");
        Fails(defaults with { CheckpointEverySteps = 0 }, "CheckpointEverySteps must be at least 1.");
        Fails(defaults with { CpuThreads = 0 }, "CpuThreads must be at least 1 when set.");
    }

    [TestMethod]
    public void EachFamilyKeepsItsOwnDefaultsAndChecks()
    {
        var ssd = new SsdDetectorOptions();
        Assert.AreEqual((OptimizerKind.Adam, 1e-3, 5e-4, 100, LearningRateDecay.Cosine), (ssd.Optimizer, ssd.LearningRate, ssd.WeightDecay, ssd.WarmupSteps, ssd.LearningRateDecay));
        var deepLab = new DeepLabSegmenterOptions();
        Assert.AreEqual((OptimizerKind.Sgd, 0.01, 1e-4, 0, LearningRateDecay.Poly), (deepLab.Optimizer, deepLab.LearningRate, deepLab.WeightDecay, deepLab.WarmupSteps, deepLab.LearningRateDecay));
        Fails(deepLab with { BatchSize = 1 }, "BatchSize must be at least 2 (BatchNorm of the image pooling branch needs more than one value per channel).");
        Fails(ssd with { BatchSize = 0 }, "BatchSize must be at least 1.");
        Fails(ssd with { Architecture = (DetectorArchitecture)4 }, "Architecture is unknown.");
        Fails(ssd with { Backbone = (DetectorBackbone)40 }, "Backbone is unknown.");
        Fails(ssd with { DataWorkers = -1 }, "DataWorkers must be within 0..64 when set (0: the training thread makes the batches; null: the trainer's default).");
        Fails(new FasterRcnnDetectorOptions { PrefetchBatches = 0 }, "PrefetchBatches must be within 1..64.");
        Fails(ssd with { PixelCacheBytes = -1 }, "PixelCacheBytes must be >= 0 (0: never keep the decoded images).");
        Fails(ssd with { TrainingScales = [] }, "TrainingScales must hold at least one factor (null: every step at the input size).");
        Fails(ssd with { TrainingScales = [1f, 5f] }, "TrainingScales must hold factors within 0.25..4.");
        Fails(ssd with { InputWidth = 60, InputHeight = 60, TrainingScales = [0.25f, 1f] },
            "TrainingScales makes a 0×0 input from 60×60; every training size must be within 32..4096 pixels.");
        // Sides rounded to a multiple of 32; a factor of 1 is the input itself; null trains at the input only.
        var input = new MLNetExtensions.Scoring.NetworkInput(300, 200, false);
        CollectionAssert.AreEqual(new[] { (224, 160), (300, 200), (384, 256) },
            (ssd with { InputWidth = 300, InputHeight = 200, TrainingScales = [0.75f, 1f, 1.25f] }).TrainingInputs(input).Select(i => (i.Width, i.Height)).ToArray());
        Assert.AreEqual(input, (ssd with { InputWidth = 300, InputHeight = 200 }).TrainingInputs(input).Single());
        Assert.AreEqual((null, 2, 1L << 30), (ssd.DataWorkers, ssd.PrefetchBatches, ssd.PixelCacheBytes));
        Assert.AreEqual(Math.Clamp(Environment.ProcessorCount - 1, 0, 8), ssd.ResolveDataWorkers(libtorchThreads: 1), "the cores libtorch's thread leaves free");
        Assert.AreEqual(0, ssd.ResolveDataWorkers(libtorchThreads: Environment.ProcessorCount), "no thread beyond the cores: the training thread makes the batches");
        Assert.AreEqual(5, (ssd with { DataWorkers = 5 }).ResolveDataWorkers(libtorchThreads: 64), "the option wins");
        // The estimator checks at construction, before any data is read.
        Assert.Throws<ArgumentException>(() => new MLContext().Transforms.TrainSsdDetector(ssd with { WeightDecay = -1 }));
    }
}
