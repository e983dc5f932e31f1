using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// SSD training throughput at 300×300, batch 8, on the CPU (and CUDA where present): whole steps (batch assembly with
/// augmentation + forward + backward + update) against the same steps on a batch made once (the baseline), which gives
/// the share of a step spent preparing data.
/// </summary>
public sealed class SsdTrainingBenchmark : IBenchmark
{
    private const int Size = 300, Batch = 8, Warmup = 2, Steps = 8;

    public string Name => "ssd-training";
    public string Description => "SSD training images/s at 300×300, batch 8, and the share of each step spent on data";

    public void Run(TextWriter output)
    {
        var options = new SsdDetectorOptions { InputWidth = Size, InputHeight = Size, BatchSize = Batch };
        var data = BuiltInTrainingSet(options);
        var devices = new List<DeviceSelection> { DeviceSelection.Cpu };
        if (torch.cuda.is_available()) devices.Add(DeviceSelection.Cuda);
        foreach (var selection in devices)
        {
            var device = TorchRuntime.Resolve(selection);
            torch.manual_seed(1);
            var model = new SsdDetectorModel(options, data.ClassNames.Length, device);
            var optimizer = torch.optim.SGD(model.Network.parameters(), 1e-3, momentum: 0.9);
            model.Network.train();
            var rng = new Random(1);
            int[] Indices(int step) => Enumerable.Range(step * Batch, Batch).Select(i => i % data.Count).ToArray();

            var fixedBatch = data.Batch(Indices(0), options.Augmentation, rng, device);
            double baseline = Time(step => Step(model, optimizer, fixedBatch.Images, fixedBatch.Targets), device);
            double dataSeconds = 0;
            double whole = Time(step =>
            {
                var clock = Stopwatch.StartNew();
                var (images, targets) = data.Batch(Indices(step), options.Augmentation, rng, device);
                dataSeconds += clock.Elapsed.TotalSeconds;
                Step(model, optimizer, images, targets);
            }, device);
            double dataShare = dataSeconds / (Steps + Warmup) / whole;
            output.WriteLine($"  {selection}: whole step {Batch / whole:F1} img/s ({whole * 1000:F0} ms), compute only (baseline) {Batch / baseline:F1} img/s ({baseline * 1000:F0} ms); " +
                             $"ratio {baseline / whole:F2}x; data loading {dataShare:P0} of a step");
            var network = (SsdNetwork)model.Network;
            if (selection == DeviceSelection.Cpu)
                output.WriteLine($"    {CpuPeak.ForThisProcess().DescribeTraining(NetworkFlops.ForwardPerImage(network, x => network.call(x), fixedBatch.Images), Batch / baseline)} (compute only)");
        }
    }

    /// <summary>The built-in dataset's training split at the options' input size (also used by <see cref="MallocPaddingBenchmark"/>).</summary>
    internal static DetectionTrainingSet BuiltInTrainingSet(SsdDetectorOptions options)
    {
        var ml = new MLContext(1);
        var train = ml.Data.LoadFromPascalVoc(SyntheticShapesDataset.EnsureBuiltIn(), "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        TorchRuntime.EnsureLoaded();
        return DetectionTrainingSet.Create(ml, train, new NetworkInput(options.InputWidth, options.InputHeight, options.Grayscale),
            options.ImagePathColumn, options.BoxesColumn, options.LabelsColumn);
    }

    /// <summary>One training step: loss, backward, optimizer step (also timed by <see cref="MallocPaddingBenchmark"/>).</summary>
    internal static void Step(SsdDetectorModel model, torch.optim.Optimizer optimizer, Tensor images, IReadOnlyList<DetectionTarget> targets)
    {
        using var scope = NewDisposeScope();
        var loss = model.Loss(images, targets, new Random(0));
        optimizer.zero_grad();
        loss.Total.backward();
        optimizer.step();
    }

    /// <summary>Median seconds of one step after warm-up.</summary>
    private static double Time(Action<int> step, Device device)
    {
        var times = new List<double>();
        for (int i = 0; i < Warmup + Steps; i++)
        {
            var clock = Stopwatch.StartNew();
            step(i);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            if (i >= Warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
