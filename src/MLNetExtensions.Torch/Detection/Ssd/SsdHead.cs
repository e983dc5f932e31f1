using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// One 3×3 convolution per feature map predicting <c>valuesPerBox</c> numbers for each default box, reshaped and
/// concatenated so box a of the result is default box a of <see cref="MLNetExtensions.Detection.DefaultBoxes"/>.
/// </summary>
public sealed class SsdHead : nn.Module<Tensor[], Tensor>
{
    private readonly ModuleList<Conv2d> module_list;
    private readonly long _valuesPerBox;

    public SsdHead(long[] inChannels, int[] boxesPerLocation, long valuesPerBox, float biasInit = 0f) : base(nameof(SsdHead))
    {
        if (inChannels.Length != boxesPerLocation.Length)
            throw new ArgumentException($"{inChannels.Length} feature maps but {boxesPerLocation.Length} box counts.");
        _valuesPerBox = valuesPerBox;
        module_list = new ModuleList<Conv2d>();
        using Scalar bias = biasInit;   // held (dotnet/TorchSharp#1434)
        for (int k = 0; k < inChannels.Length; k++)
        {
            var conv = nn.Conv2d(inChannels[k], boxesPerLocation[k] * valuesPerBox, 3, padding: 1);
            nn.init.xavier_uniform_(conv.weight);
            nn.init.constant_(conv.bias!, bias);
            module_list.Add(conv);
        }
        RegisterComponents();
    }

    /// <summary>Maps (N, C_k, H_k, W_k) → (N, A, valuesPerBox).</summary>
    public override Tensor forward(Tensor[] maps)
    {
        using var scope = NewDisposeScope();
        var parts = new Tensor[maps.Length];
        for (int k = 0; k < maps.Length; k++)
        {
            var y = PaddedConvolution.Apply(module_list[k], maps[k]);                              // (N, A_k·V, H, W)
            parts[k] = y.permute(0, 2, 3, 1).reshape(y.shape[0], -1, _valuesPerBox);   // (N, H·W·A_k, V)
        }
        return cat(parts, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Emits the head for the named maps; returns (N, A, valuesPerBox).</summary>
    public string Export(OnnxGraphBuilder g, string[] maps)
    {
        var parts = new string[maps.Length];
        for (int k = 0; k < maps.Length; k++)
        {
            var y = ConvExport.Emit(g, module_list[k], $"module_list.{k}", null, null, maps[k]);
            y = OnnxOps.Transpose(g, y, [0, 2, 3, 1]);
            parts[k] = OnnxOps.Reshape(g, y, [0, -1, _valuesPerBox]);
        }
        return OnnxOps.Concat(g, parts, axis: 1);
    }
}
