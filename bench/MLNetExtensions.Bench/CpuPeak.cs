using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MLNetExtensions.Torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// This CPU's peak float32 arithmetic at the instruction set oneDNN uses, two ways. On paper: cores (those libtorch's
/// threads use) × FLOPs per cycle per core × clock, where FLOPs per cycle = FMA units × vector lanes × 2. AMD Zen 4/5
/// and Intel server cores issue two vector FMAs a cycle; Zen 5 (family 26) executes AVX-512 at full 512-bit width (16
/// float lanes), Zen 4 (family 25) splits it into two 256-bit halves (8 lanes' worth), AVX2 has 8 lanes; oneDNN's "AVX"
/// level has no FMA, and two multiply plus two add pipes of 8 lanes give the same 32 FLOPs per cycle as AVX2's FMAs.
/// The clock is the one measured on every core at once (<see cref="MeasuredGigahertz"/>) where it is above the nominal
/// one from /proc/cpuinfo ("cpu MHz"; under a hypervisor, the TSC rate): a boosting CPU runs well above its nominal
/// clock (a Zen 5 EPYC at 2.6 GHz nominal was measured at 4.1), and a peak at the nominal clock let a convolution reach
/// "117% of peak". Measured beside it: what independent FMAs at that ISA reach on the same cores at once
/// (<see cref="MeasuredGflops"/>). That falls short of the paper figure where it assumes what the machine does not give
/// — two virtual CPUs of a VM that share a physical core part of the time (an Intel Ice Lake VM, 2026-12-06: one thread
/// 171 GFLOP/s of AVX-512 FMAs, two at once 228–346 from run to run, against 358–438 on paper), a core that runs AVX-512
/// at a lower clock, fewer FMA units than assumed — and can pass it where the FMAs ran at a higher clock than the
/// integer chain saw (the same VM at AVX2: 215 GFLOP/s against 197). Shares of peak are of the higher of the two, so
/// they never flatter.
/// </summary>
internal sealed record CpuPeak(int Cores, double FlopsPerCycle, double Gigahertz, string Isa, string Source, double FmaGflops)
{
    /// <summary>Cores × FLOPs per cycle × clock.</summary>
    public double PaperGflops => Cores * FlopsPerCycle * Gigahertz;

    /// <summary>The peak shares are of: the paper figure, or the measured FMA throughput where that is higher (the FMAs
    /// ran at a higher clock than the integer chain saw), so a share never flatters.</summary>
    public double Gflops => double.IsNaN(FmaGflops) ? PaperGflops : Math.Max(PaperGflops, FmaGflops);

    /// <summary>"F GFLOP forward per image; training ≈ 3× → G GFLOP/s = P of peak" for a training speed.</summary>
    public string DescribeTraining(double forwardFlopsPerImage, double imagesPerSecond)
    {
        double achieved = 3 * forwardFlopsPerImage * imagesPerSecond / 1e9;
        return $"{forwardFlopsPerImage / 1e9:F3} GFLOP forward per image (convolutions and linear layers), a training step ≈ 3× that: " +
               $"{achieved:F1} GFLOP/s = {achieved / Gflops:P1} of this CPU's {Gflops:F0} GFLOP/s peak at {Isa} ({MeasuredCeiling})";
    }

    public override string ToString()
        => $"{Cores} cores × {FlopsPerCycle:F0} FLOP/cycle ({Isa}: {Source}) × {Gigahertz:F2} GHz = {PaperGflops:F0} GFLOP/s; {MeasuredCeiling}; peak used: {Gflops:F0} GFLOP/s";

    /// <summary>What the FMA-only code reached, against the paper figure.</summary>
    public string MeasuredCeiling => double.IsNaN(FmaGflops)
        ? $"FMA throughput not measured ({Isa} instructions unavailable to .NET)"
        : $"independent {(Isa == "AVX" ? "multiplies and adds" : "FMAs")} at {Isa} on the {Cores} cores at once reached {FmaGflops:F0} GFLOP/s, {FmaGflops / PaperGflops:P0} of it";

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
        double fma = MeasuredGflops(cores, isa);
        // The higher of the two, so the peak is never below what the cores ran at, and a share of it never flatters.
        return measured > nominal || double.IsNaN(nominal)
            ? new CpuPeak(cores, perCycle, measured, isa, $"{source}; clock measured on {cores} cores at once, nominal {nominal:F2} GHz", fma)
            : new CpuPeak(cores, perCycle, nominal, isa, $"{source}; nominal clock from /proc/cpuinfo, measured {measured:F2} GHz", fma);
    }

    /// <summary>
    /// The float32 GFLOP/s that <paramref name="cores"/> threads reach at once with nothing but independent vector
    /// arithmetic at <paramref name="isa"/>: twelve FMA chains each (AVX-512: 16 lanes, AVX2: 8; at "AVX", six multiply
    /// and six add chains of 8 lanes), more than FMA units × latency, so only throughput limits them. The whole work over
    /// the slowest thread's time, the best of sixteen rounds; NaN where .NET cannot run that ISA's instructions.
    /// </summary>
    internal static double MeasuredGflops(int cores, string isa)
    {
        const long Iterations = 2_000_000;
        (Func<long, float>? kernel, double flopsPerIteration) = isa switch
        {
            "AVX512" when Avx512F.IsSupported => (Fma512, 12 * 16 * 2),
            "AVX2" when Fma.IsSupported => (Fma256, 12 * 8 * 2),
            "AVX" when Avx.IsSupported => (MultiplyAdd256, 12 * 8),
            _ => ((Func<long, float>?)null, 0.0),
        };
        if (kernel is null) return double.NaN;
        double best = 0;
        for (int round = 0; round < 16; round++)
        {
            double seconds = SlowestThreadSeconds(cores, warmUp => GC.KeepAlive(kernel(warmUp ? Iterations / 10 : Iterations)));
            best = Math.Max(best, cores * Iterations * flopsPerIteration / seconds / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma512(long iterations)
    {
        var m = Vector512.Create(0.999f);
        var a = Vector512.Create(1e-6f);
        Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Avx512F.FusedMultiplyAdd(x0, m, a); x1 = Avx512F.FusedMultiplyAdd(x1, m, a); x2 = Avx512F.FusedMultiplyAdd(x2, m, a);
            x3 = Avx512F.FusedMultiplyAdd(x3, m, a); x4 = Avx512F.FusedMultiplyAdd(x4, m, a); x5 = Avx512F.FusedMultiplyAdd(x5, m, a);
            x6 = Avx512F.FusedMultiplyAdd(x6, m, a); x7 = Avx512F.FusedMultiplyAdd(x7, m, a); x8 = Avx512F.FusedMultiplyAdd(x8, m, a);
            x9 = Avx512F.FusedMultiplyAdd(x9, m, a); x10 = Avx512F.FusedMultiplyAdd(x10, m, a); x11 = Avx512F.FusedMultiplyAdd(x11, m, a);
        }
        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma256(long iterations)
    {
        var m = Vector256.Create(0.999f);
        var a = Vector256.Create(1e-6f);
        Vector256<float> x0 = Vector256.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Fma.MultiplyAdd(x0, m, a); x1 = Fma.MultiplyAdd(x1, m, a); x2 = Fma.MultiplyAdd(x2, m, a);
            x3 = Fma.MultiplyAdd(x3, m, a); x4 = Fma.MultiplyAdd(x4, m, a); x5 = Fma.MultiplyAdd(x5, m, a);
            x6 = Fma.MultiplyAdd(x6, m, a); x7 = Fma.MultiplyAdd(x7, m, a); x8 = Fma.MultiplyAdd(x8, m, a);
            x9 = Fma.MultiplyAdd(x9, m, a); x10 = Fma.MultiplyAdd(x10, m, a); x11 = Fma.MultiplyAdd(x11, m, a);
        }
        return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }

    /// <summary>oneDNN's AVX level: separate multiplies and adds, six chains of each. The factor is 1: a chain
    /// multiplied by anything smaller sinks into denormals, which this CPU computes a hundred times slower.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float MultiplyAdd256(long iterations)
    {
        var m = Vector256.Create(1f);
        var a = Vector256.Create(1e-6f);
        Vector256<float> p0 = Vector256.Create(1f), p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0, s0 = p0, s1 = p0, s2 = p0, s3 = p0, s4 = p0, s5 = p0;
        for (long i = 0; i < iterations; i++)
        {
            p0 = Avx.Multiply(p0, m); s0 = Avx.Add(s0, a); p1 = Avx.Multiply(p1, m); s1 = Avx.Add(s1, a);
            p2 = Avx.Multiply(p2, m); s2 = Avx.Add(s2, a); p3 = Avx.Multiply(p3, m); s3 = Avx.Add(s3, a);
            p4 = Avx.Multiply(p4, m); s4 = Avx.Add(s4, a); p5 = Avx.Multiply(p5, m); s5 = Avx.Add(s5, a);
        }
        return Vector256.Sum(p0 + p1 + p2 + p3 + p4 + p5 + s0 + s1 + s2 + s3 + s4 + s5);
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
            long key = round + 3;
            best = Math.Max(best, 16.0 * Iterations / SlowestThreadSeconds(cores, warmUp => GC.KeepAlive(Chain(warmUp ? Iterations / 10 : Iterations, key))) / 1e9);
        }
        return best;
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="cores"/> threads at once: each warms up (argument true),
    /// all are released together, then each runs it timed (false); returns the slowest thread's seconds.</summary>
    private static double SlowestThreadSeconds(int cores, Action<bool> work)
    {
        var seconds = new double[cores];
        using var start = new Barrier(cores);
        var threads = Enumerable.Range(0, cores).Select(t => new Thread(() =>
        {
            work(true);
            start.SignalAndWait();
            var clock = Stopwatch.StartNew();
            work(false);
            seconds[t] = clock.Elapsed.TotalSeconds;
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return seconds.Max();
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
