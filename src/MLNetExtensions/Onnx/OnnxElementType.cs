namespace MLNetExtensions.Onnx;

/// <summary>Element types of graph inputs, outputs and initializers; values are ONNX's <c>TensorProto.DataType</c>.</summary>
public enum OnnxElementType
{
    Float = 1,
    UInt8 = 2,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
}
