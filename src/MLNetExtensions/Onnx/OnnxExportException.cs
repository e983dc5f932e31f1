namespace MLNetExtensions.Onnx;

/// <summary>
/// A model or graph cannot be written as ONNX: a module is in training mode, has a setting ONNX export does not
/// support, or a node reads a value nothing produces. The message names the module or node and what to change.
/// </summary>
public sealed class OnnxExportException(string message, Exception? inner = null) : Exception(message, inner);
