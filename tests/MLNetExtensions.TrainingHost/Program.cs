using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;

// Usage: MLNetExtensions.TrainingHost <voc folder> <checkpoint folder> <model.onnx> <steps> <checkpoint every> <slow write ms> [<capture folder>]
// Trains a tiny SSD (64-px images, the default augmentation, one libtorch thread) with checkpoints into <checkpoint folder>,
// resuming from the latest one there, and writes the exported ONNX to <model.onnx>. Prints to stdout, one line each:
// "STEP n" after step n, "WRITING <path>" after each file of a checkpoint is written (then sleeps <slow write ms>, so a
// kill can land inside the write), "DONE" at the end. With <capture folder>, copies every checkpoint file it writes to
// <capture folder>/step-NNNNNNNN/ (the uninterrupted reference run).
if (args.Length is < 6 or > 7)
{
    Console.Error.WriteLine("usage: MLNetExtensions.TrainingHost <voc folder> <checkpoint folder> <model.onnx> <steps> <checkpoint every> <slow write ms> [<capture folder>]");
    return 2;
}
string voc = args[0], checkpoints = args[1], output = args[2];
int steps = int.Parse(args[3]), every = int.Parse(args[4]), slowMs = int.Parse(args[5]);
string? capture = args.Length == 7 ? args[6] : null;

CheckpointStore.WritingForTests = path =>
{
    if (capture != null)
    {
        // ".tmp-step-00000004-<guid>" → "step-00000004"
        string name = Path.GetFileName(Path.GetDirectoryName(path)!)[".tmp-".Length..][.."step-00000000".Length];
        string folder = Path.Combine(capture, name);
        Directory.CreateDirectory(folder);
        File.Copy(path, Path.Combine(folder, Path.GetFileName(path)), overwrite: true);
    }
    Console.WriteLine($"WRITING {path}");
    if (slowMs > 0) Thread.Sleep(slowMs);
};

var ml = new MLContext(1);
var train = ml.Data.LoadFromPascalVoc(voc, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
var options = new SsdDetectorOptions
{
    InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.25f, GridSize = 4, MinScale = 0.2f,
    BatchSize = 4, MaxSteps = steps, WarmupSteps = 2, LearningRate = 3e-3, Seed = 7, CpuThreads = 1,
    Device = DeviceSelection.Cpu, CheckpointFolder = checkpoints, CheckpointEverySteps = every,
    Progress = new StepReport(p => Console.WriteLine($"STEP {p.Step}")),
};
var model = ml.Transforms.TrainSsdDetector(options).Fit(train);
string tmp = output + ".tmp";
File.WriteAllBytes(tmp, model.OnnxModel);
File.Move(tmp, output, overwrite: true);
Console.WriteLine("DONE");
return 0;

/// <summary>Reports on the training thread, at once (Progress&lt;T&gt; would post to the thread pool).</summary>
sealed class StepReport(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
