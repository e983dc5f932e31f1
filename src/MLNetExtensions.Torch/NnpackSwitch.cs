using System.Runtime.InteropServices;

namespace MLNetExtensions.Torch;

/// <summary>
/// Turns libtorch's NNPACK convolution path off on CPUs where NNPACK cannot run. libtorch 2.10 asks NNPACK whether it
/// is available before every CPU convolution that oneDNN does not take (with one thread: unstrided 1×1 convolutions
/// of batches under 16), and where NNPACK reports unsupported hardware it logs "Could not initialize NNPACK! Reason:
/// Unsupported hardware." on every such call: thousands of lines an epoch with <c>CpuThreads = 1</c>. Switching it off
/// (what <c>torch.backends.nnpack.set_flags(False)</c> does in Python) changes no result, as NNPACK was never used.
/// </summary>
/// <remarks>
/// TorchSharp does not expose the switch, so it is reached through libtorch's exported C++ symbols in the already
/// loaded <c>libtorch_cpu.so</c> (looked up with <c>RTLD_NOLOAD</c>, so no second copy is ever loaded). Where a symbol
/// is missing (another libtorch build), nothing is changed.
/// </remarks>
internal static class NnpackSwitch
{
    private const int RtldLazy = 0x1, RtldNoLoad = 0x4;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr DlOpen(string fileName, int flags);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate byte BoolFunction();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr PointerFunction();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetFlag(IntPtr context, byte enabled);

    /// <summary>True when NNPACK was found unavailable and switched off; false when it is available or the switch cannot be reached.</summary>
    public static bool DisableWhereUnsupported()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return false;
        try
        {
            var library = DlOpen("libtorch_cpu.so", RtldLazy | RtldNoLoad);
            if (library == IntPtr.Zero
                || !NativeLibrary.TryGetExport(library, "_ZN2at6native17_nnpack_availableEv", out var available)      // at::native::_nnpack_available()
                || !NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var globalContext)             // at::globalContext()
                || !NativeLibrary.TryGetExport(library, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setEnabled)) // at::Context::setUserEnabledNNPACK(bool)
                return false;
            if (Marshal.GetDelegateForFunctionPointer<BoolFunction>(available)() != 0) return false;
            var context = Marshal.GetDelegateForFunctionPointer<PointerFunction>(globalContext)();
            Marshal.GetDelegateForFunctionPointer<SetFlag>(setEnabled)(context, 0);
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
