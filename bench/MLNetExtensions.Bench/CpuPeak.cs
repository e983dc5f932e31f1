using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using MLNetExtensions.Torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// This CPU's peak float32 arithmetic at the instruction set oneDNN uses: cores (those libtorch's threads use) × FLOPs
/// per cycle per core × clock.
/// FLOPs per cycle = FMA units × vector lanes × 2. AMD Zen 4/5 and Intel server cores issue two vector FMAs a cycle;
/// Zen 5 (family 26) executes AVX-512 at full 512-bit width (16 float lanes), Zen 4 (family 25) splits it into two
/// 256-bit halves (8 lanes' worth), AVX2 has 8 lanes; oneDNN's "AVX" level has no FMA, and two multiply plus two add
/// pipes of 8 lanes give the same 32 FLOPs per cycle as AVX2's FMAs. The clock is the one measured on every core at
/// once (<see cref="MeasuredGigahertz"/>) where it is above the nominal one from /proc/cpuinfo ("cpu MHz"; under a
/// hypervisor, the TSC rate): a boosting CPU runs well above its nominal clock (a Zen 5 EPYC at 2.6 GHz nominal was
/// measured at 4.1), and a peak at the nominal clock let a convolution reach "117% of peak".
/// </summary>
internal sealed record CpuPeak(int Cores, double FlopsPerCycle, double Gigahertz, string Isa, string Source)
{
    public double Gflops => Cores * FlopsPerCycle * Gigahertz;

    /// <summary>"F GFLOP forward per image; training ≈ 3× → G GFLOP/s = P of peak" for a training speed.</summary>
    public string DescribeTraining(double forwardFlopsPerImage, double imagesPerSecond)
    {
        double achieved = 3 * forwardFlopsPerImage * imagesPerSecond / 1e9;
        return $"{forwardFlopsPerImage / 1e9:F3} GFLOP forward per image (convolutions and linear layers), a training step ≈ 3× that: " +
               $"{achieved:F1} GFLOP/s = {achieved / Gflops:P1} of this CPU's {Gflops:F0} GFLOP/s peak at {Isa}";
    }

    public override string ToString()
        => $"{Cores} cores × {FlopsPerCycle:F0} FLOP/cycle ({Isa}: {Source}) × {Gigahertz:F2} GHz = {Gflops:F0} GFLOP/s";

    /// <summary>The peak with oneDNN at the ISA this process runs (<see cref="OneDnnIsa"/>), or at <paramref name="isa"/>
    /// ("AVX", "AVX2", "AVX512") when given.</summary>
    public static CpuPeak ForThisProcess(string? isa = null)
    {
        int family = CpuFamily();
        isa ??= OneDnnIsa.RunsAvx512() ? "AVX512" : Avx2.IsSupported && Fma.IsSupported && !IsCappedAt("AVX") ? "AVX2" : "AVX";
        (double perCycle, string source) = isa switch
        {
            "AVX512" when family == 26 => (64, "2 FMA × 16 lanes × 2, Zen 5's full-width AVX-512"),
            "AVX512" when family == 25 => (32, "2 FMA × 8 lanes × 2, Zen 4 runs AVX-512 as two 256-bit halves"),
            "AVX512" => (64, "2 FMA × 16 lanes × 2, assumed for an AVX-512 server core"),
            "AVX2" => (32, "2 FMA × 8 lanes × 2"),
            _ => (32, "2 multiply + 2 add pipes × 8 lanes, no FMA at oneDNN's AVX level"),
        };
        TorchRuntime.EnsureLoaded();
        // The cores libtorch computes on: its intra-op threads, at most one per core.
        int cores = Math.Min(Environment.ProcessorCount, TorchSharp.torch.get_num_threads());
        double nominal = Megahertz() / 1000, measured = MeasuredGigahertz(cores);
        // The higher of the two, so the peak is never below what the cores ran at, and a share of it never flatters.
        return measured > nominal || double.IsNaN(nominal)
            ? new CpuPeak(cores, perCycle, measured, isa, $"{source}; clock measured on {cores} cores at once, nominal {nominal:F2} GHz")
            : new CpuPeak(cores, perCycle, nominal, isa, $"{source}; nominal clock from /proc/cpuinfo, measured {measured:F2} GHz");
    }

    /// <summary>
    /// The clock the cores run at under load, in GHz: a chain of dependent integer additions and exclusive ors (one
    /// cycle each, and no core can run a dependent one sooner) on <paramref name="cores"/> threads at once; the best of
    /// eight rounds of the slowest thread, so a round in which the hypervisor took a core away does not count.
    /// </summary>
    internal static double MeasuredGigahertz(int cores)
    {
        const long Iterations = 2_000_000;  // 16 operations each: about 8 ms at 4 GHz
        double best = 0;
        for (int round = 0; round < 8; round++)
        {
            var rates = new double[cores];
            using var start = new Barrier(cores);
            var threads = Enumerable.Range(0, cores).Select(t => new Thread(() =>
            {
                Chain(Iterations / 10, t + 3);
                start.SignalAndWait();
                var clock = Stopwatch.StartNew();
                long result = Chain(Iterations, t + 3);
                rates[t] = 16.0 * Iterations / clock.Elapsed.TotalSeconds / 1e9;
                GC.KeepAlive(result);
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            best = Math.Max(best, rates.Min());
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long Chain(long iterations, long key)
    {
        long x = key;
        for (long i = 0; i < iterations; i++)
        {
            x = (x + i) ^ key; x = (x + i) ^ key; x = (x + i) ^ key; x = (x + i) ^ key;
            x = (x + i) ^ key; x = (x + i) ^ key; x = (x + i) ^ key; x = (x + i) ^ key;
        }
        return x;
    }

    private static bool IsCappedAt(string value)
        => string.Equals(OneDnnIsa.EnsureUserSettingVisible(), value, StringComparison.OrdinalIgnoreCase);

    private static int CpuFamily() => int.TryParse(CpuInfo("cpu family"), out var f) ? f : 0;

    private static double Megahertz() => double.TryParse(CpuInfo("cpu MHz"), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : double.NaN;

    private static string? CpuInfo(string key)
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() == key) return line[(colon + 1)..].Trim();
        }
        return null;
    }
}
