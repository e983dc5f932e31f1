using MLNetExtensions.Bench;

// Benchmarks print ratios against a baseline measured in the same process, never absolute pass/fail.
// Usage: dotnet run -c Release --project bench/MLNetExtensions.Bench -- [name ...]   (no name: all)
IBenchmark[] all =
[
    new BoxOpsBenchmark(),
    new SyntheticShapesBenchmark(),
    new MaskDecodeBenchmark(),
    new OnnxExportBenchmark(),
    new ImageTransformsBenchmark(),
    new EvaluationBenchmark(),
    new SsdTrainingBenchmark(),
    new MallocPaddingBenchmark(),
    new AllocatorBenchmark(),
    new ScoringBenchmark(),
    new DeepLabBenchmark(),
    new RoiAlignBenchmark(),
    new BilinearResizeBenchmark(),
    new AdamWChunksBenchmark(),
    new FasterRcnnBenchmark(),
    new BackboneCostBenchmark(),
    new SelectiveSearchBenchmark(),
    new TorchVisionOpsBenchmark(),
    new OneDnnIsaBenchmark(),
    new PyTorchParityBenchmark(),
    new LongRunMemoryBenchmark(),
    new ScalarStressBenchmark(),
    new DataPipelineBenchmark(),
    new TrainingMemoryBenchmark(),
];

if (args is [TrainingMemoryBenchmark.ChildArgument, var folder, var rows, .. var rest] && rest.Length <= 1)
{
    // The child's steps can be given (fewer, to time Fit → first step alone); the bench itself runs 10,000.
    TrainingMemoryBenchmark.RunChild(folder, int.Parse(rows, System.Globalization.CultureInfo.InvariantCulture), Console.Out,
        rest is [var steps] ? int.Parse(steps, System.Globalization.CultureInfo.InvariantCulture) : TrainingMemoryBenchmark.Steps);
    return 0;
}
if (args is [OneDnnIsaBenchmark.ChildArgument, _])
{
    OneDnnIsaBenchmark.RunChild(Console.Out);
    return 0;
}

var chosen = args.Length == 0 ? all : all.Where(b => args.Contains(b.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
if (chosen.Length == 0)
{
    Console.Error.WriteLine($"Unknown benchmark. Available: {string.Join(", ", all.Select(b => b.Name))}");
    return 2;
}
foreach (var b in chosen)
{
    Console.WriteLine($"== {b.Name}: {b.Description}");
    b.Run(Console.Out);
}
return 0;
