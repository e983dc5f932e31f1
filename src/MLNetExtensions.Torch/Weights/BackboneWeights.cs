using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Weights;

/// <summary>
/// Loads a trainer's <c>BackboneWeightsPath</c> into its backbone: an <c>.onnx</c> file is ML.NET's ImageNet ResNet-18
/// (<see cref="PretrainedBackbone.ImageNetResNet18"/>, read by <see cref="ResNet18OnnxImporter"/>); any other file is
/// a <c>.safetensors</c> file with torchvision's key names (<see cref="SafetensorsWeights.LoadInto"/>).
/// </summary>
public static class BackboneWeights
{
    /// <summary>Copies the weights of <paramref name="path"/> into <paramref name="module"/>'s state_dict entries of the same keys; nothing is copied unless all keys and shapes fit.</summary>
    /// <exception cref="WeightLoadException">Keys are missing (and not allowed to be), unexpected (and not ignored), or shapes differ.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file, or not ML.NET's ResNet-18 ONNX graph.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static WeightLoadReport LoadInto(nn.Module module, string path, WeightLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!PretrainedBackbone.IsOnnx(path)) return SafetensorsWeights.LoadInto(module, path, options);
        var tensors = ResNet18OnnxImporter.Import(path);
        try
        {
            return SafetensorsWeights.Copy(module, path, tensors.ToDictionary(t => t.Key, t => t.Value.shape, StringComparer.Ordinal),
                key => tensors[key].alias(), options);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
