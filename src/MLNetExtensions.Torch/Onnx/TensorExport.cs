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
        return t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    /// <summary>The elements of <paramref name="t"/> as float64, for arithmetic done before writing (BatchNorm folding).</summary>
    public static double[] Doubles(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        return t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
    }
}
