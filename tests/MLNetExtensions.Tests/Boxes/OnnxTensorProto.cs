using System.Buffers.Binary;
using Google.Protobuf;

namespace MLNetExtensions.Tests.Boxes;

/// <summary>
/// The parts of an ONNX <c>TensorProto</c> the node tests need, read with protobuf's wire format directly (no
/// generated code): dims = 1, data_type = 2, float_data = 4, int64_data = 7, name = 8, raw_data = 9.
/// Repeated numeric fields are accepted packed or unpacked.
/// </summary>
internal sealed class OnnxTensorProto
{
    public const int Float = 1, Int64 = 7;

    public string Name { get; private set; } = "";
    public int DataType { get; private set; }
    public List<long> Dims { get; } = [];
    public List<float> FloatData { get; } = [];
    public List<long> Int64Data { get; } = [];
    public byte[] RawData { get; private set; } = [];

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public static OnnxTensorProto Read(string path)
    {
        var tensor = new OnnxTensorProto();
        var input = new CodedInputStream(File.ReadAllBytes(path));
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            switch (field)
            {
                case 1: ReadRepeated(input, wire, () => tensor.Dims.Add(input.ReadInt64())); break;
                case 2: tensor.DataType = input.ReadInt32(); break;
                case 4: ReadRepeated(input, wire, () => tensor.FloatData.Add(input.ReadFloat())); break;
                case 7: ReadRepeated(input, wire, () => tensor.Int64Data.Add(input.ReadInt64())); break;
                case 8: tensor.Name = input.ReadString(); break;
                case 9: tensor.RawData = input.ReadBytes().ToByteArray(); break;
                default: input.SkipLastField(); break;
            }
        }
        return tensor;
    }

    public float[] ToFloats()
    {
        if (DataType != Float) throw new InvalidDataException($"Tensor '{Name}' has data_type {DataType}; expected FLOAT (1).");
        var values = RawData.Length > 0
            ? Enumerable.Range(0, RawData.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(RawData.AsSpan(4 * i))).ToArray()
            : FloatData.ToArray();
        CheckCount(values.Length);
        return values;
    }

    public long[] ToInt64s()
    {
        if (DataType != Int64) throw new InvalidDataException($"Tensor '{Name}' has data_type {DataType}; expected INT64 (7).");
        var values = RawData.Length > 0
            ? Enumerable.Range(0, RawData.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(RawData.AsSpan(8 * i))).ToArray()
            : Int64Data.ToArray();
        CheckCount(values.Length);
        return values;
    }

    private void CheckCount(int count)
    {
        if (count != ElementCount)
            throw new InvalidDataException($"Tensor '{Name}' has {count} values for dims [{string.Join(", ", Dims)}].");
    }

    private static void ReadRepeated(CodedInputStream input, WireFormat.WireType wire, Action readOne)
    {
        if (wire != WireFormat.WireType.LengthDelimited)
        {
            readOne();
            return;
        }
        int length = input.ReadLength();
        int end = checked((int)input.Position + length);
        while (input.Position < end) readOne();
    }
}

/// <summary>Reads an integer attribute of the single node of an ONNX node-test model (ModelProto.graph.node.attribute).</summary>
internal static class OnnxNodeAttributes
{
    // ModelProto.graph = 7; GraphProto.node = 1; NodeProto.attribute = 5; AttributeProto.name = 1, i = 3.
    public static long? ReadInt(string modelPath, string attribute)
    {
        foreach (var graph in Messages(File.ReadAllBytes(modelPath), 7))
            foreach (var node in Messages(graph, 1))
                foreach (var attr in Messages(node, 5))
                {
                    string? name = null;
                    long? value = null;
                    var input = new CodedInputStream(attr);
                    uint tag;
                    while ((tag = input.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(tag))
                        {
                            case 1: name = input.ReadString(); break;
                            case 3: value = input.ReadInt64(); break;
                            default: input.SkipLastField(); break;
                        }
                    }
                    if (name == attribute) return value;
                }
        return null;
    }

    private static IEnumerable<byte[]> Messages(byte[] message, int field)
    {
        var result = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                result.Add(input.ReadBytes().ToByteArray());
            else
                input.SkipLastField();
        }
        return result;
    }
}
