namespace MLNetExtensions.Onnx;

/// <summary>
/// One dimension of a graph input or output: a fixed size, or a symbolic name such as
/// <see cref="OnnxGraphBuilder.BatchDimension"/> for a size chosen at run time.
/// Converts implicitly from <see cref="long"/> and <see cref="string"/>, so a shape reads <c>("N", 3, 224, 224)</c>.
/// </summary>
public readonly record struct OnnxDimension
{
    private OnnxDimension(long? size, string? name)
    {
        Size = size;
        Name = name;
    }

    /// <summary>The fixed size, or null for a symbolic dimension.</summary>
    public long? Size { get; }

    /// <summary>The symbolic name, or null for a fixed size.</summary>
    public string? Name { get; }

    /// <summary>A dimension of fixed size.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative.</exception>
    public static OnnxDimension Fixed(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new OnnxDimension(size, null);
    }

    /// <summary>A dimension whose size is chosen at run time; equal names mean equal sizes.</summary>
    public static OnnxDimension Symbolic(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new OnnxDimension(null, name);
    }

    /// <summary>A fixed-size dimension.</summary>
    public static implicit operator OnnxDimension(long size) => Fixed(size);
    /// <summary>A symbolic dimension.</summary>
    public static implicit operator OnnxDimension(string name) => Symbolic(name);

    public override string ToString() => Name ?? Size!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
