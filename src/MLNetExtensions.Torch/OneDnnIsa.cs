using System.Runtime.InteropServices;

namespace MLNetExtensions.Torch;

/// <summary>
/// The instruction set oneDNN (libtorch's CPU convolution library) runs at. The library leaves oneDNN at the CPU's best
/// (AVX-512 where there is one) unless the user chose an ISA with <c>ONEDNN_MAX_CPU_ISA</c>. On AVX-512 machines
/// (AMD EPYC, libtorch 2.10 CPU) oneDNN's backward-data convolution was seen to return wrong input gradients for channel
/// counts that are not a multiple of 16; the library's networks call their convolutions through
/// <see cref="Modules.PaddedConvolution"/>, which pads those counts, and <c>NetworkConvolutionGradientTests</c> checks
/// every network's gradients against float64 at the ISA in use. Before that padding the library capped oneDNN at AVX,
/// which cost 1.7× in SSD training.
/// </summary>
/// <remarks>
/// oneDNN reads <c>ONEDNN_MAX_CPU_ISA</c> with the C runtime's <c>getenv</c> when it first dispatches a kernel, and
/// .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach that environment on Unix,
/// so a value set from .NET before libtorch starts is copied there with libc's <c>setenv</c>. Set
/// <c>ONEDNN_MAX_CPU_ISA=AVX</c> to bring the old cap back for convolutions of your own that do not go through
/// <see cref="Modules.PaddedConvolution"/>.
/// </remarks>
internal static class OneDnnIsa
{
    public const string Variable = "ONEDNN_MAX_CPU_ISA";

    /// <summary>The ISA cap oneDNN will see (the user's <see cref="Variable"/>, from .NET's or the C runtime's
    /// environment), or null where it is unset and oneDNN picks the CPU's best.</summary>
    public static string? EnsureUserSettingVisible()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return null;
        try
        {
            if (CRuntimeEnvironment.Get(Variable) == null)
            {
                var managed = Environment.GetEnvironmentVariable(Variable);
                if (!string.IsNullOrEmpty(managed)) CRuntimeEnvironment.SetIfUnset(Variable, managed);
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
        var isa = EnsureUserSettingVisible();
        return isa is null || isa.Equals("ALL", StringComparison.OrdinalIgnoreCase) || isa.StartsWith("AVX512", StringComparison.OrdinalIgnoreCase);
    }
}
