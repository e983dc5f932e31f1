using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Scoring;

/// <summary>
/// Where a scoring transformer's ONNX Runtime sessions run: the CPU, or the CUDA device of
/// <see cref="ScoringOptions.GpuDeviceId"/> once a CUDA session of the model was made. When it cannot be made and
/// <see cref="ScoringOptions.FallbackToCpu"/> is set, the CPU, with the reason logged to the <c>MLContext</c>.
/// </summary>
internal sealed record ScoringDevice(int? GpuDeviceId, string? FallbackReason)
{
    public static ScoringDevice Cpu { get; } = new(null, null);

    /// <summary><c>CPU</c> or <c>CUDA:n</c>.</summary>
    public string Name => GpuDeviceId is int id ? $"CUDA:{id}" : "CPU";

    public static ScoringDevice Resolve(MLContext mlContext, byte[] onnxModel, ScoringOptions options)
    {
        if (options.GpuDeviceId is not int id) return Cpu;
        string reason;
        try
        {
            // The CUDA provider loads (libonnxruntime_providers_cuda.so, then CUDA and cuDNN) when it is appended, and
            // the device is first touched by the session: both must succeed for the GPU path to be real.
            using var sessionOptions = SessionOptions.MakeSessionOptionWithCudaProvider(id);
            using var session = new InferenceSession(onnxModel, sessionOptions);
            return new ScoringDevice(id, null);
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = ex.Message.Trim();
        }
        string message = $"CUDA device {id} cannot run the model ({reason}). Scoring needs the CUDA build of ONNX Runtime "
            + "(build with -p:MLNetExtensionsOnnxRuntimeGpu=true and a PackageReference to Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0), CUDA 12 and cuDNN 9.";
        if (!options.FallbackToCpu)
            throw new InvalidOperationException(message + " Set ScoringOptions.FallbackToCpu to score on the CPU instead.");
        using (var channel = ((IHostEnvironment)mlContext).Start("MLNetExtensions.Scoring"))
            channel.Warning(MessageSensitivity.None, message + " Scoring on the CPU.");
        return new ScoringDevice(null, message);
    }

    /// <summary>A session of <paramref name="onnxModel"/> on this device.</summary>
    public InferenceSession CreateSession(byte[] onnxModel)
    {
        if (GpuDeviceId is not int id) return new InferenceSession(onnxModel);
        using var sessionOptions = SessionOptions.MakeSessionOptionWithCudaProvider(id);
        return new InferenceSession(onnxModel, sessionOptions);
    }
}
