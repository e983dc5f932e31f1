using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Weights;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The key (a state_dict key for model weights).</param>
/// <param name="DType">The element type as the file spells it: F32, F16, BF16, F64, I64, I32.</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="Begin">Start of the raw bytes, relative to the end of the header.</param>
/// <param name="End">End (exclusive) of the raw bytes, relative to the end of the header.</param>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// A <c>.safetensors</c> file (the format of Hugging Face and of torchvision weights converted with it): an 8-byte
/// little-endian header length, a JSON header <c>{name: {dtype, shape, data_offsets}, "__metadata__": {...}}</c>,
/// then the raw little-endian tensor bytes. <see cref="Open"/> reads and checks the header only; each tensor is read
/// on demand, so a large file costs the memory of the tensors asked for.
/// </summary>
public sealed class SafetensorsFile
{
    private const string MetadataKey = "__metadata__";
    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["F64"] = 8, ["I64"] = 8, ["I32"] = 4,
    };

    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsEntry> _entries;

    private SafetensorsFile(string path, long dataStart, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _dataStart = dataStart;
        _entries = entries;
        Metadata = metadata;
    }

    /// <summary>The file the entries were read from.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> (string to string), empty when there is none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors in the file, by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries => _entries;

    /// <summary>Reads and checks the header of the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, its header is not valid JSON of the safetensors layout, a dtype is unsupported, or an entry's bytes lie outside the file or do not match its shape; the message names the file.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The safetensors file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw Bad(path, $"it is {fileLength} bytes long, shorter than the 8-byte header length every safetensors file starts with (truncated?)");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad(path, $"its header length says {headerLength} bytes, but only {fileLength - 8} bytes follow (truncated, or not a safetensors file)");
        if (headerLength > 100_000_000)
            throw Bad(path, $"its header length {headerLength} bytes exceeds the 100 MB the format allows");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"its header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"its header is a JSON {document.RootElement.ValueKind}, not an object of tensor entries");
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw Bad(path, $"its {MetadataKey} is a JSON {property.Value.ValueKind}, not an object of strings");
                    foreach (var m in property.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                entries[property.Name] = ParseEntry(path, property, dataLength);
            }
            return new SafetensorsFile(path, dataStart, entries, metadata);
        }
    }

    /// <summary>
    /// Reads the tensor <paramref name="name"/> on the CPU: floating-point dtypes (F32, F16, BF16, F64) as float32,
    /// integer dtypes (I64, I32) as int64.
    /// </summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name.</exception>
    public Tensor ReadTensor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_entries.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"The safetensors file '{Path}' has no tensor '{name}'.");
        var bytes = new byte[entry.End - entry.Begin];
        using (var stream = File.OpenRead(Path))
        {
            stream.Seek(_dataStart + entry.Begin, SeekOrigin.Begin);
            stream.ReadExactly(bytes);
        }
        return Decode(entry, bytes);
    }

    /// <summary>Reads every tensor (see <see cref="ReadTensor"/>), by name.</summary>
    public Dictionary<string, Tensor> ReadAll() => _entries.Keys.ToDictionary(k => k, ReadTensor, StringComparer.Ordinal);

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> (replaced if it exists): floating-point tensors as
    /// F32, integer and bool tensors as I64, in the order given, with the header padded to 8 bytes as the format's
    /// reference writer does.
    /// </summary>
    public static void Save(IEnumerable<KeyValuePair<string, Tensor>> tensors, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Writing safetensors files needs a little-endian machine.");
        using var scope = torch.NewDisposeScope();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for metadata and cannot name a tensor.", nameof(tensors));
            if (header.ContainsKey(name)) throw new ArgumentException($"The tensor name '{name}' appears twice.", nameof(tensors));
            bool floating = tensor.is_floating_point();
            var cpu = tensor.detach().cpu().to_type(floating ? ScalarType.Float32 : ScalarType.Int64).contiguous();
            var bytes = cpu.bytes.ToArray();
            header[name] = new { dtype = floating ? "F32" : "I64", shape = cpu.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        if (metadata is { Count: > 0 })
            header[MetadataKey] = metadata;
        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padding = (8 - json.Length % 8) % 8;

        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        using var stream = File.Create(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)(json.Length + padding));
        stream.Write(lengthBytes);
        stream.Write(json);
        for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
        foreach (var blob in blobs) stream.Write(blob);
    }

    private static SafetensorsEntry ParseEntry(string path, JsonProperty property, long dataLength)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"the entry '{name}' is a JSON {value.ValueKind}, not an object with dtype, shape and data_offsets");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad(path, $"the entry '{name}' has no dtype string");
        var dtype = dtypeElement.GetString()!;
        if (!ElementSizes.TryGetValue(dtype, out int elementSize))
            throw Bad(path, $"the entry '{name}' has dtype {dtype}; supported are {string.Join(", ", ElementSizes.Keys)}");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"the entry '{name}' has no shape array");
        var shape = new long[shapeElement.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
                throw Bad(path, $"the entry '{name}' has shape {shapeElement.GetRawText()}; dimensions must be non-negative integers");
            shape[d++] = size;
        }
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !offsets[0].TryGetInt64(out var begin) || !offsets[1].TryGetInt64(out var end))
            throw Bad(path, $"the entry '{name}' has no data_offsets pair [begin, end]");
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad(path, $"the entry '{name}' has data_offsets [{begin}, {end}], outside the {dataLength} data bytes after the header (truncated?)");
        // A shape's element count (and its byte length) must fit in 64 bits: a tampered header could otherwise wrap the
        // product around to the span of its data_offsets and pass the check below.
        long count = 1;
        foreach (long dim in shape)
            if (dim != 0 && count > long.MaxValue / elementSize / dim)
            {
                if (shape.Contains(0)) { count = 0; break; }
                throw Bad(path, $"the entry '{name}' has shape [{string.Join(", ", shape)}], whose element count overflows 64 bits (a damaged or hostile header)");
            }
            else count *= dim;
        if (end - begin != count * elementSize)
            throw Bad(path, $"the entry '{name}' ({dtype}, shape [{string.Join(", ", shape)}]) needs {count * elementSize} bytes, but its data_offsets [{begin}, {end}] span {end - begin}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static Tensor Decode(SafetensorsEntry entry, byte[] bytes)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Reading safetensors files needs a little-endian machine.");
        switch (entry.DType)
        {
            case "F32":
                return torch.tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), entry.Shape);
            case "F64":
                return torch.tensor(ToFloats(MemoryMarshal.Cast<byte, double>(bytes), v => (float)v), entry.Shape);
            case "F16":
                return torch.tensor(ToFloats(MemoryMarshal.Cast<byte, Half>(bytes), v => (float)v), entry.Shape);
            case "BF16":
                // bfloat16 is the upper half of a float32.
                return torch.tensor(ToFloats(MemoryMarshal.Cast<byte, ushort>(bytes), v => BitConverter.Int32BitsToSingle(v << 16)), entry.Shape);
            case "I64":
                return torch.tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), entry.Shape);
            case "I32":
                var ints = MemoryMarshal.Cast<byte, int>(bytes);
                var longs = new long[ints.Length];
                for (int i = 0; i < ints.Length; i++) longs[i] = ints[i];
                return torch.tensor(longs, entry.Shape);
            default:
                throw new InvalidOperationException($"Unsupported dtype {entry.DType}.");
        }
    }

    private static float[] ToFloats<T>(ReadOnlySpan<T> values, Func<T, float> convert)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = convert(values[i]);
        return result;
    }

    private static InvalidDataException Bad(string path, string problem) =>
        new($"'{path}' is not a valid safetensors file: {problem}. Write it with safetensors.torch.save_file or SafetensorsFile.Save.");
}
