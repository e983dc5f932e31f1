using MLNetExtensions.Torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// The quickstart's SSD training step (128×128, VggLite ×0.5 with top-down fusion, batch 8, AdamW, CPU) on glibc's
/// malloc with the 256 MiB top pad <see cref="TorchRuntime"/> sets (the baseline) against gperftools' tcmalloc
/// preloaded (<c>LD_PRELOAD</c>). libtorch 2.10's oneDNN integration allocates about 18,000 aligned blocks and 41,000
/// others a step on the main thread (memory descriptors, memory objects, reorders: twice what PyTorch 1.13 does for the
/// same network), and glibc 2.36 serves aligned requests on its slow path; the allocator is chosen when a process
/// starts, so each measurement is a child process (<c>onednn-isa-child</c>), in turns; the figures are medians.
/// </summary>
public sealed class AllocatorBenchmark : IBenchmark
{
    private const int Batch = 8, Rounds = 5;
    private const string Glibc = "glibc", Tcmalloc = "tcmalloc";

    /// <summary>Where Debian's libtcmalloc-minimal4 (and other distributions' gperftools) put tcmalloc.</summary>
    internal static readonly string[] TcmallocPaths =
    [
        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
        "/usr/lib64/libtcmalloc_minimal.so.4", "/usr/lib64/libtcmalloc.so.4", "/usr/lib/libtcmalloc_minimal.so.4",
    ];

    public string Name => "allocator";
    public string Description => "quickstart SSD training step on glibc's malloc (top pad 256 MiB, the default) vs tcmalloc preloaded, child processes in turns";

    public void Run(TextWriter output)
    {
        string? library = OperatingSystem.IsLinux() ? TcmallocPaths.FirstOrDefault(File.Exists) : null;
        if (library is null)
        {
            output.WriteLine("  tcmalloc not found (Linux only; Debian: apt install libtcmalloc-minimal4); skipped.");
            return;
        }
        output.WriteLine($"  tcmalloc: {library}");
        var seconds = new Dictionary<string, List<double>> { [Glibc] = [], [Tcmalloc] = [] };
        for (int round = 0; round < Rounds; round++)
            foreach (var allocator in seconds.Keys)
            {
                double s = OneDnnIsaBenchmark.Child(allocator, environment =>
                {
                    if (allocator == Tcmalloc) environment["LD_PRELOAD"] = library;
                    else environment.Remove("LD_PRELOAD");
                });
                seconds[allocator].Add(s);
                output.WriteLine($"  round {round + 1}, {allocator,-8} {Batch / s,7:F1} img/s ({s * 1000:F1} ms a step)");
            }
        double Median(List<double> t) => t.Order().ElementAt(t.Count / 2);
        double glibc = Median(seconds[Glibc]), tcmalloc = Median(seconds[Tcmalloc]);
        output.WriteLine($"  medians: glibc {Batch / glibc:F1} img/s, tcmalloc {Batch / tcmalloc:F1} img/s");
        output.WriteLine($"  quickstart SSD step at 128 px, tcmalloc preloaded over glibc's malloc (images/s ratio): {glibc / tcmalloc:F2}");
    }
}
