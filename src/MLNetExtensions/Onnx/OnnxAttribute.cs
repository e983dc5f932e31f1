using Google.Protobuf;
using MLNetExtensions.Onnx.Proto;

namespace MLNetExtensions.Onnx;

/// <summary>A named node attribute: an int, float, string, or a list of ints or floats.</summary>
public sealed class OnnxAttribute
{
    private OnnxAttribute(AttributeProto proto) => Proto = proto;

    internal AttributeProto Proto { get; }

    /// <summary>The attribute's name, e.g. <c>strides</c>.</summary>
    public string Name => Proto.Name;

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Int(string name, long value) =>
        new(new AttributeProto { Name = Check(name), Type = AttributeProto.Types.AttributeType.Int, I = value });

    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Float(string name, float value) =>
        new(new AttributeProto { Name = Check(name), Type = AttributeProto.Types.AttributeType.Float, F = value });

    /// <summary>A STRING attribute (UTF-8).</summary>
    public static OnnxAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(new AttributeProto { Name = Check(name), Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });
    }

    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var proto = new AttributeProto { Name = Check(name), Type = AttributeProto.Types.AttributeType.Ints };
        proto.Ints.AddRange(values);
        return new(proto);
    }

    /// <summary>A FLOATS attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var proto = new AttributeProto { Name = Check(name), Type = AttributeProto.Types.AttributeType.Floats };
        proto.Floats.AddRange(values);
        return new(proto);
    }

    private static string Check(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return name;
    }
}
