using MLNetExtensions.Onnx;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// A network block that writes its own ONNX nodes. TorchSharp 0.107 has no ONNX export, so every block that a
/// model is built from says, next to its <c>forward</c>, which ONNX ops compute the same thing in eval mode.
/// </summary>
public interface IOnnxExportable
{
    /// <summary>
    /// Adds the nodes that compute this block's eval-mode forward of the value <paramref name="input"/> to
    /// <paramref name="graph"/> and returns the name of the result. Weights are written as initializers named after
    /// the block's state_dict keys inside the graph's open scope.
    /// </summary>
    /// <exception cref="MLNetExtensions.Onnx.OnnxExportException">The block is in training mode, or uses a setting ONNX export does not support.</exception>
    string Export(OnnxGraphBuilder graph, string input);
}
