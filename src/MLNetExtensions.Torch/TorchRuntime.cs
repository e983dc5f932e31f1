using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch;

/// <summary>
/// Loads libtorch once and, when that fails, says what was tried and what to do, instead of TorchSharp's
/// "not restored" message, which on Debian 12 is really a missing GLIBCXX_3.4.32 or a missing libtorch.
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static DeviceType? _initialized;

    /// <summary>Makes sure libtorch is loaded for <paramref name="device"/>; call before the first tensor.</summary>
    /// <exception cref="TorchRuntimeException">libtorch or TorchSharp's native library could not be loaded.</exception>
    public static void EnsureLoaded(DeviceType device = DeviceType.CPU)
    {
        lock (Gate)
        {
            if (_initialized == device || (_initialized == DeviceType.CUDA && device == DeviceType.CPU)) return;
            OneDnnIsa.EnsureUserSettingVisible();
            GlibcMallocPadding.EnsureApplied();
            try
            {
                torch.InitializeDeviceType(device);
                using var probe = torch.zeros(1, device: new Device(device));
                NnpackSwitch.DisableWhereUnsupported();
                _initialized = device;
            }
            catch (Exception ex) when (ex is not TorchRuntimeException)
            {
                throw new TorchRuntimeException(Diagnose(device, ex), ex);
            }
        }
    }

    /// <summary>Resolves <see cref="DeviceSelection.Auto"/> to CUDA where it is available, else CPU, and loads it.</summary>
    public static Device Resolve(DeviceSelection selection)
    {
        switch (selection)
        {
            case DeviceSelection.Cpu:
                EnsureLoaded(DeviceType.CPU);
                return torch.CPU;
            case DeviceSelection.Cuda:
                EnsureLoaded(DeviceType.CUDA);
                if (!torch.cuda.is_available())
                    throw new TorchRuntimeException("Device Cuda was asked for, but torch.cuda.is_available() is false. Build with -p:UseCpuLibTorch=false and put a CUDA libtorch's lib folder on LD_LIBRARY_PATH, or choose DeviceSelection.Cpu.");
                return torch.CUDA;
            default:
                try { EnsureLoaded(DeviceType.CUDA); } catch (TorchRuntimeException) { EnsureLoaded(DeviceType.CPU); }
                return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        }
    }

    internal static string Diagnose(DeviceType device, Exception error)
    {
        var lines = new List<string> { $"TorchSharp could not load libtorch for {device}." };
        string baseDir = AppContext.BaseDirectory;
        var candidates = new[] { Path.Combine(baseDir, "libLibTorchSharp.so"), Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so") };
        var found = candidates.FirstOrDefault(File.Exists);
        lines.Add(found == null
            ? $"Tried: libLibTorchSharp.so in '{baseDir}' and its runtimes/linux-x64/native folder: not found. Reference the TorchSharp package from the application."
            : $"Tried: '{found}'.");
        if (found != null && RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            if (ElfVersionNeeds.RequiresStrictly(found, "GLIBCXX_3.4.32"))
                lines.Add("It requires GLIBCXX_3.4.32, which this system's libstdc++ may lack (Debian 12 has 3.4.30). Build through MLNetExtensions' targets (they mark that requirement weak in the copied file), or install a newer libstdc++.");
            else
                lines.Add("Its GLIBCXX_3.4.32 requirement is already weak.");
            string dir = Path.GetDirectoryName(found)!;
            bool cpuTorch = File.Exists(Path.Combine(dir, "libtorch_cpu.so")) || File.Exists(Path.Combine(baseDir, "libtorch_cpu.so"));
            string ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "";
            bool ldTorch = ld.Split(':', StringSplitOptions.RemoveEmptyEntries).Any(p => File.Exists(Path.Combine(p, "libtorch_cpu.so")));
            lines.Add(cpuTorch ? "libtorch_cpu.so is in the application folder." : ldTorch ? "libtorch_cpu.so was found through LD_LIBRARY_PATH." :
                "libtorch_cpu.so is neither in the application folder nor on LD_LIBRARY_PATH: reference libtorch-cpu-linux-x64 2.10.0 (the default build does), or point LD_LIBRARY_PATH at a libtorch 2.10 lib folder (e.g. a PyTorch install's torch/lib) when building with -p:UseCpuLibTorch=false.");
        }
        if (device == DeviceType.CUDA)
            lines.Add("For CUDA: build with -p:UseCpuLibTorch=false and put a CUDA libtorch's lib folder on LD_LIBRARY_PATH.");
        lines.Add($"TorchSharp said: {FirstLine(error)}");
        return string.Join(Environment.NewLine, lines);
    }

    private static string FirstLine(Exception e)
    {
        var inner = e;
        while (inner.InnerException != null) inner = inner.InnerException;
        var msg = (e.Message.Split('\n').FirstOrDefault() ?? "").Trim();
        return inner == e ? msg : $"{msg} ({inner.GetType().Name}: {inner.Message.Split('\n')[0].Trim()})";
    }
}

/// <summary>Where training runs.</summary>
public enum DeviceSelection { Auto, Cpu, Cuda }

/// <summary>libtorch or TorchSharp's native library could not be loaded; the message says what was tried.</summary>
public sealed class TorchRuntimeException(string message, Exception? inner = null) : Exception(message, inner);
