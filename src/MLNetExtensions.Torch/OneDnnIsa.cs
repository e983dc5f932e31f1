using System.Runtime.InteropServices;

namespace MLNetExtensions.Torch;

/// <summary>
/// Caps oneDNN (libtorch's CPU convolution library) at AVX unless the user chose an ISA. On the AVX-512 machines seen
/// here (AMD EPYC, libtorch 2.10 CPU) oneDNN's backward-data convolution returns wrong input gradients (errors as large
/// as the values, sometimes NaN) whenever the output channels are not a multiple of 16 with its AVX-512 kernels, or
/// of 8 with its AVX2 kernels (e.g. 36 = 6 boxes × 6 classes, an SSD head); its AVX kernels match a float64 reference
/// for every channel count tried. Training would silently learn from garbage, so correctness wins over speed.
/// </summary>
/// <remarks>
/// oneDNN reads <c>ONEDNN_MAX_CPU_ISA</c> with the C runtime's <c>getenv</c> when it first dispatches a kernel, and
/// .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach that environment on Unix,
/// so the variable is set with libc's <c>setenv</c> before libtorch runs anything. Set <c>ONEDNN_MAX_CPU_ISA</c>
/// yourself (e.g. to <c>ALL</c>) to override.
/// </remarks>
internal static class OneDnnIsa
{
    public const string Variable = "ONEDNN_MAX_CPU_ISA";
    public const string Cap = "AVX";

    /// <summary>The value oneDNN will see, after capping it where the user left it unset.</summary>
    public static string? EnsureCapped()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return null;
        try
        {
            if (CRuntimeEnvironment.Get(Variable) == null)
            {
                var managed = Environment.GetEnvironmentVariable(Variable);
                CRuntimeEnvironment.SetIfUnset(Variable, string.IsNullOrEmpty(managed) ? Cap : managed);
            }
            return CRuntimeEnvironment.Get(Variable);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether oneDNN may pick its AVX-512 kernels in this process: the CPU has oneDNN's <c>avx512_core</c>
    /// (AVX-512 F, BW, DQ and VL) and <see cref="Variable"/> does not cap it below.</summary>
    public static bool RunsAvx512()
    {
        if (!(System.Runtime.Intrinsics.X86.Avx512F.IsSupported && System.Runtime.Intrinsics.X86.Avx512BW.IsSupported
              && System.Runtime.Intrinsics.X86.Avx512DQ.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported))
            return false;
        var isa = EnsureCapped();
        return isa is null || isa.Equals("ALL", StringComparison.OrdinalIgnoreCase) || isa.StartsWith("AVX512", StringComparison.OrdinalIgnoreCase);
    }
}
