using System.Reflection;
using System.Runtime.InteropServices;
using Google.Protobuf;
using MLNetExtensions.Onnx.Proto;

namespace MLNetExtensions.Onnx;

/// <summary>
/// Builds one ONNX model (IR version <see cref="IrVersion"/>, default-domain opset <see cref="OpsetVersion"/>) node by
/// node. Every name it hands out is unique; every node input must already exist (a graph input, an initializer or an
/// earlier node's output), so a wrong wiring fails where it is made rather than when ONNX Runtime loads the file.
/// Network blocks emit their nodes through <see cref="OnnxOps"/>; the builder only keeps the graph consistent.
/// </summary>
public sealed class OnnxGraphBuilder
{
    /// <summary>ONNX IR version written (8: ONNX 1.10+, read by ONNX Runtime 1.10 and later).</summary>
    public const long IrVersion = 8;

    /// <summary>Default-domain operator set version written (17: ONNX 1.12+, ONNX Runtime 1.12+).</summary>
    public const long OpsetVersion = 17;

    /// <summary>Symbolic name of the batch dimension of inputs and outputs.</summary>
    public const string BatchDimension = "N";

    /// <summary>The <c>producer_name</c> written into models.</summary>
    public const string ProducerName = "MLNetExtensions";

    private enum ValueKind { Input, Initializer, NodeOutput }

    private readonly GraphProto _graph;
    private readonly Dictionary<string, ValueKind> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _initializerShapes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _ranks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _properties = new(StringComparer.Ordinal);
    private readonly List<string> _scopes = [];

    /// <summary>Starts an empty graph called <paramref name="graphName"/>.</summary>
    public OnnxGraphBuilder(string graphName = "main")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphName);
        _graph = new GraphProto { Name = graphName };
    }

    /// <summary>
    /// Continues a model this library wrote (default-domain opset <see cref="OpsetVersion"/> only): its inputs,
    /// initializers, nodes and outputs become this builder's, so nodes can be appended and outputs replaced (e.g. a
    /// detector's post-processing put into its graph). The typed metadata is read back into <see cref="Metadata"/>;
    /// other <c>metadata_props</c> are kept.
    /// </summary>
    /// <param name="onnx">The model's bytes.</param>
    /// <param name="source">Named in error messages.</param>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model, or its metadata is malformed.</exception>
    /// <exception cref="OnnxExportException">The model imports another opset or domain.</exception>
    public static OnnxGraphBuilder Load(byte[] onnx, string source = "the model")
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"'{source}' is not an ONNX model: {ex.Message}", ex);
        }
        if (model.Graph == null)
            throw new InvalidDataException($"'{source}' is an ONNX model without a graph.");
        if (model.OpsetImport.Count != 1 || model.OpsetImport[0].Domain.Length != 0 || model.OpsetImport[0].Version != OpsetVersion)
            throw new OnnxExportException($"'{source}' imports opsets {string.Join(", ", model.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"))}; only models written by this library (default domain, opset {OpsetVersion}) can be continued.");
        var g = new OnnxGraphBuilder(model.Graph.Name.Length == 0 ? "main" : model.Graph.Name);
        g._graph.MergeFrom(model.Graph);
        foreach (var input in g._graph.Input)
        {
            g._values[input.Name] = ValueKind.Input;
            g._ranks[input.Name] = input.Type.TensorType.Shape.Dim.Count;
        }
        foreach (var tensor in g._graph.Initializer)
        {
            g._values[tensor.Name] = ValueKind.Initializer;
            g._initializerShapes[tensor.Name] = tensor.Dims.ToArray();
            g._ranks[tensor.Name] = tensor.Dims.Count;
        }
        foreach (var node in g._graph.Node)
        {
            g._nodeNames.Add(node.Name);
            foreach (var output in node.Output) g._values[output] = ValueKind.NodeOutput;
        }
        foreach (var output in g._graph.Output)
        {
            g._outputs.Add(output.Name);
            g._ranks[output.Name] = output.Type.TensorType.Shape.Dim.Count;
        }
        var properties = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        if (properties.ContainsKey(OnnxModelMetadata.FormatVersionKey))
            g.Metadata = OnnxModelMetadata.FromProperties(properties, source);
        else
            foreach (var (key, value) in properties) g._properties[key] = value;
        if (model.DocString.Length != 0) g.DocString = model.DocString;
        return g;
    }

    /// <summary>Stops returning the graph output <paramref name="name"/>; the value stays in the graph for later nodes.</summary>
    /// <exception cref="ArgumentException">The graph has no such output.</exception>
    public void RemoveOutput(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_outputs.Remove(name))
            throw new ArgumentException($"The graph has no output named '{name}'.", nameof(name));
        var info = _graph.Output.First(o => o.Name == name);
        _graph.Output.Remove(info);
    }

    /// <summary>Sets dimension <paramref name="axis"/> of the graph input <paramref name="name"/> (e.g. a batch of 1).</summary>
    /// <exception cref="ArgumentException">The graph has no such input, or not that many axes.</exception>
    public void SetInputDimension(string name, int axis, OnnxDimension dimension)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var input = _graph.Input.FirstOrDefault(i => i.Name == name)
            ?? throw new ArgumentException($"The graph has no input named '{name}'.", nameof(name));
        var dims = input.Type.TensorType.Shape.Dim;
        if (axis < 0 || axis >= dims.Count)
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"Input '{name}' has {dims.Count} axes.");
        if (dimension.Name == null && dimension.Size == null)
            throw new ArgumentException("The dimension is default(OnnxDimension); give a size or a symbolic name.", nameof(dimension));
        dims[axis] = dimension.Name != null ? new TensorShapeProto.Types.Dimension { DimParam = dimension.Name } : new TensorShapeProto.Types.Dimension { DimValue = dimension.Size!.Value };
    }

    /// <summary>Typed metadata written into the model's <c>metadata_props</c>; null writes none.</summary>
    public OnnxModelMetadata? Metadata { get; set; }

    /// <summary>The model's <c>doc_string</c>.</summary>
    public string? DocString { get; set; }

    /// <summary>Number of nodes added so far.</summary>
    public int NodeCount => _graph.Node.Count;

    /// <summary>The dotted path of the scopes now open (e.g. <c>layer1.0</c>), or empty.</summary>
    public string CurrentScope => string.Join('.', _scopes);

    /// <summary>
    /// Opens a naming scope: until the returned handle is disposed, initializer, value and node names start with
    /// the open scopes' path, so an exported weight is named like its module's state_dict key (<c>layer1.0.conv1.weight</c>).
    /// </summary>
    public IDisposable BeginScope(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _scopes.Add(name);
        int depth = _scopes.Count;
        return new ScopeHandle(this, depth);
    }

    private sealed class ScopeHandle(OnnxGraphBuilder owner, int depth) : IDisposable
    {
        private bool _closed;

        public void Dispose()
        {
            if (_closed) return;
            _closed = true;
            if (owner._scopes.Count != depth)
                throw new InvalidOperationException($"Scopes must be closed in the reverse order they were opened; '{string.Join('.', owner._scopes)}' is open inside the one being closed.");
            owner._scopes.RemoveAt(depth - 1);
        }
    }

    /// <summary>True when <paramref name="name"/> is a graph input, an initializer or a node output.</summary>
    public bool HasValue(string name) => _values.ContainsKey(Resolve(name));

    /// <summary>The rank of a value when it is known (inputs, initializers, and node outputs whose op sets it).</summary>
    public int? RankOf(string value) => _ranks.TryGetValue(Resolve(value), out var rank) ? rank : null;

    /// <summary>Records the rank of a value, for ops whose output rank follows from their inputs.</summary>
    public void SetRank(string value, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        value = Resolve(value);
        if (!_values.ContainsKey(value))
            throw new ArgumentException($"'{value}' is not a value of this graph.", nameof(value));
        _ranks[value] = rank;
    }

    /// <summary>The dimensions of an initializer, or null when <paramref name="name"/> is not one.</summary>
    public IReadOnlyList<long>? InitializerShape(string name) =>
        _initializerShapes.TryGetValue(Resolve(name), out var dims) ? dims : null;

    /// <summary>A value name not used yet: the open scopes' path, then <paramref name="hint"/>, then <c>_2</c>, <c>_3</c>... when taken.</summary>
    public string UniqueValueName(string hint) => Unique(Scoped(hint), n => _values.ContainsKey(n) || _renamed.ContainsKey(n));

    /// <summary>Declares a float graph input of the given shape; <paramref name="name"/> is used as is (not scoped).</summary>
    public string AddInput(string name, params OnnxDimension[] shape) => AddInput(name, OnnxElementType.Float, shape);

    /// <summary>Declares a graph input; <paramref name="name"/> is used as is (not scoped).</summary>
    /// <exception cref="ArgumentException">The name is already used.</exception>
    public string AddInput(string name, OnnxElementType type, params OnnxDimension[] shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (_values.ContainsKey(name) || _renamed.ContainsKey(name))
            throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
        _graph.Input.Add(ValueInfo(name, type, shape));
        _values[name] = ValueKind.Input;
        _ranks[name] = shape.Length;
        return name;
    }

    /// <summary>
    /// Makes <paramref name="value"/> a float graph output called <paramref name="name"/> with the given shape.
    /// When the name differs, the producing node's output is renamed (the old name keeps working in this builder),
    /// or an Identity node is added where the value is a graph input, an initializer, or already an output.
    /// </summary>
    public void AddOutput(string value, string name, params OnnxDimension[] shape) => AddOutput(value, name, OnnxElementType.Float, shape);

    /// <inheritdoc cref="AddOutput(string, string, OnnxDimension[])"/>
    public void AddOutput(string value, string name, OnnxElementType type, params OnnxDimension[] shape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(shape);
        value = RequireValue(value, $"graph output '{name}'");
        if (_outputs.Contains(name))
            throw new ArgumentException($"The graph already has an output named '{name}'.", nameof(name));
        if (value != name)
        {
            if (_values.ContainsKey(name) || _renamed.ContainsKey(name))
                throw new ArgumentException($"The output name '{name}' is already used by another value of the graph.", nameof(name));
            if (_values[value] == ValueKind.NodeOutput && !_outputs.Contains(value))
                Rename(value, name);
            else
                AddNodeCore("Identity", [value], [name], []);
        }
        _graph.Output.Add(ValueInfo(name, type, shape));
        _outputs.Add(name);
        _ranks[name] = shape.Length;
    }

    /// <summary>Adds a float initializer (a constant tensor such as a weight); returns its unique, scoped name.</summary>
    /// <exception cref="ArgumentException">The element count is not the product of <paramref name="dims"/>.</exception>
    public string AddInitializer(string nameHint, ReadOnlySpan<float> data, params long[] dims)
    {
        var tensor = NewInitializer(nameHint, OnnxElementType.Float, data.Length, dims);
        if (BitConverter.IsLittleEndian) tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        else tensor.FloatData.AddRange(data.ToArray());
        return Register(tensor, dims);
    }

    /// <summary>Adds an int64 initializer (shapes, axes, pads); returns its unique, scoped name.</summary>
    /// <exception cref="ArgumentException">The element count is not the product of <paramref name="dims"/>.</exception>
    public string AddInitializer(string nameHint, ReadOnlySpan<long> data, params long[] dims)
    {
        var tensor = NewInitializer(nameHint, OnnxElementType.Int64, data.Length, dims);
        if (BitConverter.IsLittleEndian) tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        else tensor.Int64Data.AddRange(data.ToArray());
        return Register(tensor, dims);
    }

    /// <summary>
    /// Adds a node with one output and returns the output's unique name. An empty string in <paramref name="inputs"/>
    /// leaves an optional input out (as ONNX does).
    /// </summary>
    /// <exception cref="OnnxExportException">An input is not a value of this graph.</exception>
    public string AddNode(string opType, IReadOnlyList<string> inputs, string? outputHint = null, params OnnxAttribute[] attributes) =>
        AddNode(opType, inputs, 1, outputHint, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs and returns their unique names.</summary>
    /// <exception cref="OnnxExportException">An input is not a value of this graph.</exception>
    public IReadOnlyList<string> AddNode(string opType, IReadOnlyList<string> inputs, int outputCount, string? outputHint = null, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(attributes);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        var resolved = inputs.Select(i => i.Length == 0 ? i : RequireValue(i, $"{opType} node in '{CurrentScopeOrRoot}'")).ToArray();
        var hint = outputHint ?? opType;
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = UniqueValueName(outputCount == 1 ? hint : $"{hint}_{i}");
            _values[outputs[i]] = ValueKind.NodeOutput; // reserve before the next name is made
        }
        AddNodeCore(opType, resolved, outputs, attributes);
        return outputs;
    }

    /// <summary>Adds a <c>metadata_props</c> entry other than the typed <see cref="Metadata"/>'s.</summary>
    /// <exception cref="ArgumentException">The key is one <see cref="OnnxModelMetadata"/> owns.</exception>
    public void SetMetadataProperty(string key, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key.StartsWith(OnnxModelMetadata.KeyPrefix, StringComparison.Ordinal))
            throw new ArgumentException($"Keys starting with '{OnnxModelMetadata.KeyPrefix}' are written from OnnxGraphBuilder.Metadata; set that instead.", nameof(key));
        _properties[key] = value;
    }

    /// <summary>The model as ONNX protobuf bytes.</summary>
    /// <exception cref="OnnxExportException">The graph has no output.</exception>
    public byte[] ToBytes()
    {
        var model = ToModel(shareGraph: true);
        try { return model.ToByteArray(); }
        finally { model.Graph = null; }
    }

    /// <summary>Writes the model to <paramref name="stream"/>.</summary>
    /// <exception cref="OnnxExportException">The graph has no output.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var model = ToModel(shareGraph: true);
        try { model.WriteTo(stream); }
        finally { model.Graph = null; }
    }

    /// <summary>Writes the model to the file at <paramref name="path"/>, replacing it.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var stream = File.Create(path);
        Save(stream);
    }

    /// <summary>
    /// The model message. With <paramref name="shareGraph"/> it holds this builder's own graph rather than a copy
    /// (weights can be hundreds of MB), for callers that serialize it at once and then detach it.
    /// </summary>
    internal ModelProto ToModel(bool shareGraph = false)
    {
        if (_graph.Output.Count == 0)
            throw new OnnxExportException($"Graph '{_graph.Name}' has no outputs: call AddOutput for the values the model returns.");
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
            Graph = shareGraph ? _graph : _graph.Clone(),
        };
        if (DocString != null) model.DocString = DocString;
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        var properties = Metadata?.ToProperties() ?? new Dictionary<string, string>();
        foreach (var (key, value) in properties.Concat(_properties).OrderBy(p => p.Key, StringComparer.Ordinal))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    private string CurrentScopeOrRoot => _scopes.Count == 0 ? "(root)" : CurrentScope;

    private string Scoped(string hint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hint);
        return _scopes.Count == 0 ? hint : $"{CurrentScope}.{hint}";
    }

    private static string Unique(string name, Func<string, bool> taken)
    {
        if (!taken(name)) return name;
        for (int i = 2; ; i++)
        {
            var candidate = $"{name}_{i}";
            if (!taken(candidate)) return candidate;
        }
    }

    private string Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        while (_renamed.TryGetValue(name, out var to)) name = to;
        return name;
    }

    private string RequireValue(string name, string reader)
    {
        var resolved = Resolve(name);
        if (!_values.ContainsKey(resolved))
            throw new OnnxExportException($"The {reader} reads '{name}', which is neither a graph input, an initializer, nor the output of an earlier node.");
        return resolved;
    }

    private void AddNodeCore(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, OnnxAttribute[] attributes)
    {
        var node = new NodeProto
        {
            OpType = opType,
            Name = Unique(Scoped(opType), _nodeNames.Contains),
        };
        _nodeNames.Add(node.Name);
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            ArgumentNullException.ThrowIfNull(attribute);
            if (!seen.Add(attribute.Name))
                throw new ArgumentException($"Attribute '{attribute.Name}' is given twice for {opType} node '{node.Name}'.", nameof(attributes));
            node.Attribute.Add(attribute.Proto.Clone());
        }
        foreach (var output in outputs) _values[output] = ValueKind.NodeOutput;
        _graph.Node.Add(node);
    }

    private void Rename(string from, string to)
    {
        foreach (var node in _graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == from) node.Input[i] = to;
            for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == from) node.Output[i] = to;
        }
        _values.Remove(from);
        _values[to] = ValueKind.NodeOutput;
        if (_ranks.Remove(from, out var rank)) _ranks[to] = rank;
        _renamed[from] = to;
    }

    private TensorProto NewInitializer(string nameHint, OnnxElementType type, int count, long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Any(d => d < 0))
            throw new ArgumentException($"Initializer '{nameHint}' has a negative dimension in ({string.Join(", ", dims)}).", nameof(dims));
        long expected = dims.Aggregate(1L, (a, d) => a * d);
        if (expected != count)
            throw new ArgumentException($"Initializer '{nameHint}' has {count} elements, but its shape ({string.Join(", ", dims)}) holds {expected}.", nameof(dims));
        var tensor = new TensorProto { Name = UniqueValueName(nameHint), DataType = (int)type };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private string Register(TensorProto tensor, long[] dims)
    {
        _graph.Initializer.Add(tensor);
        _values[tensor.Name] = ValueKind.Initializer;
        _initializerShapes[tensor.Name] = dims.ToArray();
        _ranks[tensor.Name] = dims.Length;
        return tensor.Name;
    }

    private static ValueInfoProto ValueInfo(string name, OnnxElementType type, OnnxDimension[] shape)
    {
        var tensorShape = new TensorShapeProto();
        for (int i = 0; i < shape.Length; i++)
        {
            var d = shape[i];
            if (d.Name == null && d.Size == null)
                throw new ArgumentException($"Dimension {i} of '{name}' is default(OnnxDimension); give a size or a symbolic name.", nameof(shape));
            tensorShape.Dim.Add(d.Name != null ? new TensorShapeProto.Types.Dimension { DimParam = d.Name } : new TensorShapeProto.Types.Dimension { DimValue = d.Size!.Value });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = tensorShape } },
        };
    }
}
