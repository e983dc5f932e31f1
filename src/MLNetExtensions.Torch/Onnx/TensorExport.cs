using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Onnx;

/// <summary>Copies TorchSharp tensors out as the float arrays and shapes ONNX initializers are made of.</summary>
internal static class TensorExport
{
    /// <summary>The elements of <paramref name="t"/> in row-major order as float32 (from any device and dtype).</summary>
    public static float[] Floats(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        // One block copy of the contiguous CPU buffer; data<T>().ToArray() walks element by element.
        var flat = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return MemoryMarshal.Cast<byte, float>(flat.bytes).ToArray();
    }
}
