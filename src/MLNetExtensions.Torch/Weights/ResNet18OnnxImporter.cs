using System.Runtime.InteropServices;
using Google.Protobuf;
using MLNetExtensions.Onnx.Proto;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Weights;

/// <summary>
/// Reads the ImageNet ResNet-18 that ML.NET ships for <c>DnnFeaturizeImage</c> (<see cref="PretrainedBackbone.ImageNetResNet18"/>:
/// a CNTK export, opset 8, initializers named <c>ParameterNN</c>/<c>ConstantNN</c>) as a state_dict with torchvision's
/// resnet18 key names (<c>conv1.weight</c>, <c>bn1.running_var</c>, <c>layer2.0.downsample.0.weight</c>, ...), so it
/// loads into <see cref="Backbones.ResNetBackbone"/> with <see cref="BackboneWeights.LoadInto"/>.
/// </summary>
/// <remarks>
/// The graph is walked in execution order from its input, block by block (a block's 3×3 <c>conv1</c> and its optional
/// 1×1 <c>downsample</c> both read the block's input; <c>conv2</c>'s BatchNorm output is added to the shortcut), and
/// every Conv/BatchNormalization's initializers are checked against torchvision's shapes. What differs from
/// torchvision and how it is reproduced:
/// <list type="bullet">
/// <item>Depth: the graph's layer4 has three basic blocks, not two (22 convolutions: blocks 2-2-2-3), so the keys
/// include <c>layer4.2.*</c> and the network to load them into is <see cref="Backbones.ResNetBackboneOptions.ImageNetResNet18"/>.
/// Backbones that stop at layer3 (SSD, Faster R-CNN) are torchvision's resnet18 exactly.</item>
/// <item>Channel order: the graph takes BGR (its <c>ResNetPreprocess.onnx</c> splits R, G, B and concatenates B, G, R),
/// our networks take RGB: <c>conv1.weight</c>'s input channels are reversed, so the imported network takes RGB.</item>
/// <item>Input scaling: <c>ResNetPreprocess.onnx</c> subtracts a 224×224 mean image from raw [0, 255] pixels, with no
/// scaling. A network of any input size uses that image's per-channel average instead
/// (<see cref="Modules.PixelNormalization.ImageNetMeanSubtraction"/>).</item>
/// <item>Padding: CNTK's "same" padding (stem [3, 3, 2, 2], stride-2 3×3 convolutions and the max-pool [1, 1, 0, 0])
/// reads exactly the pixels torchvision's symmetric padding reads when each stage's input size is even (input sizes
/// that are multiples of 32, such as 224); at other sizes torchvision's rule is used.</item>
/// <item>BatchNorm epsilon: torchvision's is 1e-5; a graph epsilon ε is carried exactly by storing
/// running_var + ε − 1e-5 (a no-op for this graph, whose ε is 1e-5 in float32).</item>
/// </list>
/// </remarks>
public static class ResNet18OnnxImporter
{
    private const double TorchBatchNormEpsilon = 1e-5;
    private static readonly long[] Widths = [64, 128, 256, 512];

    /// <summary>Reads the weights of the ONNX file at <paramref name="path"/> under torchvision's resnet18 keys (CPU, float32).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable ONNX model (truncated or corrupt), or its graph
    /// is not a ResNet-18 of this layout; the message names the file and the first node or initializer that does not fit.</exception>
    public static Dictionary<string, Tensor> Import(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The ONNX file '{path}' does not exist.", path);
        TorchRuntime.EnsureLoaded();
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"'{path}' is not a readable ONNX model (truncated or corrupt: {e.Message}). Restore the file, e.g. from the {PretrainedBackbone.PackageId} package.", e);
        }
        var walk = new GraphWalk(path, model.Graph ?? throw new InvalidDataException($"'{path}' has no graph; it is not an ONNX model of a ResNet-18."));
        return walk.Run();
    }

    /// <summary>One pass over the graph, keeping the state the error messages need.</summary>
    private sealed class GraphWalk
    {
        private readonly string _path;
        private readonly Dictionary<string, TensorProto> _initializers;
        private readonly ILookup<string, NodeProto> _consumers;
        private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);

        public GraphWalk(string path, GraphProto graph)
        {
            _path = path;
            _initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
            foreach (var init in graph.Initializer) _initializers[init.Name] = init;
            _consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n, StringComparer.Ordinal);
            Graph = graph;
        }

        private GraphProto Graph { get; }

        public Dictionary<string, Tensor> Run()
        {
            var inputs = Graph.Input.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
            if (inputs.Count != 1) throw Fail($"the graph has {inputs.Count} image inputs, a ResNet-18 has one");
            string x = inputs[0].Name;

            // Stem: conv1 (7×7 / 2, 3 → 64), bn1, ReLU, 3×3 / 2 max-pool.
            var conv = Single(x, "Conv", "conv1");
            x = Conv(conv, "conv1", [64, 3, 7, 7], stride: 2, reverseInputChannels: true);
            x = BatchNorm(Single(x, "BatchNormalization", "bn1"), "bn1", 64);
            x = Single(x, "Relu", "the stem's ReLU").Output[0];
            var pool = Single(x, "MaxPool", "the stem's max-pool");
            if (!Ints(pool, "kernel_shape").SequenceEqual([3L, 3]) || !Ints(pool, "strides").SequenceEqual([2L, 2]))
                throw Fail($"node '{pool.Name}' (the stem's max-pool) is not 3×3 with stride 2");
            x = pool.Output[0];

            // Blocks until the pooling: a block whose input is also read by a 1×1 convolution (the downsample) starts
            // the next layer, as in torchvision; layer1 starts with the first block.
            long inChannels = 64;
            int layer = 1, block = 0, blocks = 0;
            while (true)
            {
                var readers = _consumers[x].ToList();
                if (readers.Count == 1 && readers[0].OpType is "AveragePool" or "GlobalAveragePool") break;
                var convs = readers.Where(n => n.OpType == "Conv").ToList();
                var main = convs.FirstOrDefault(n => Ints(n, "kernel_shape").SequenceEqual([3L, 3]));
                var shortcut = convs.FirstOrDefault(n => Ints(n, "kernel_shape").SequenceEqual([1L, 1]));
                bool downsample = shortcut != null;
                if (downsample && blocks > 0) { layer++; block = 0; }
                string key = $"layer{layer}.{block}";
                if (main is null || readers.Count != convs.Count + (downsample ? 0 : 1) || convs.Count != (downsample ? 2 : 1) || layer > 4 || (layer > 1 && block == 0 && !downsample))
                    throw Fail($"after {(blocks == 0 ? "the stem" : $"layer{layer}.{block - 1}")} '{x}' is read by [{string.Join(", ", readers.Select(r => $"{r.Name} ({r.OpType})"))}], " +
                               "where a ResNet has the next block's 3×3 conv1 (with a 1×1 downsample when a layer starts) and the residual Add, or the final average pooling");
                long planes = Widths[layer - 1];
                long stride = layer > 1 && block == 0 ? 2 : 1;
                string y = Conv(main, $"{key}.conv1", [planes, inChannels, 3, 3], stride);
                y = BatchNorm(Single(y, "BatchNormalization", $"{key}.bn1"), $"{key}.bn1", planes);
                y = Single(y, "Relu", $"{key}'s first ReLU").Output[0];
                y = Conv(Single(y, "Conv", $"{key}.conv2"), $"{key}.conv2", [planes, planes, 3, 3], 1);
                y = BatchNorm(Single(y, "BatchNormalization", $"{key}.bn2"), $"{key}.bn2", planes);
                string identity = x;
                if (downsample)
                {
                    identity = Conv(shortcut!, $"{key}.downsample.0", [planes, inChannels, 1, 1], stride);
                    identity = BatchNorm(Single(identity, "BatchNormalization", $"{key}.downsample.1"), $"{key}.downsample.1", planes);
                }
                var add = Single(y, "Add", $"{key}'s residual sum");
                if (!add.Input.Contains(identity))
                    throw Fail($"node '{add.Name}' ({key}'s residual sum) does not add the block's {(downsample ? "downsampled " : "")}input");
                x = Single(add.Output[0], "Relu", $"{key}'s last ReLU").Output[0];
                inChannels = planes;
                blocks++;
                block++;
            }
            if (layer != 4)
                throw Fail($"the graph pools after layer{layer}, a ResNet has four layers");
            return _state;
        }

        /// <summary>The one node reading <paramref name="tensor"/>, which must be of type <paramref name="opType"/>.</summary>
        private NodeProto Single(string tensor, string opType, string what)
        {
            var readers = _consumers[tensor].ToList();
            if (readers.Count != 1 || readers[0].OpType != opType)
                throw Fail($"where a ResNet-18 has {what} ({opType}), '{tensor}' is read by [{string.Join(", ", readers.Select(r => $"{r.Name} ({r.OpType})"))}]");
            return readers[0];
        }

        private string Conv(NodeProto node, string key, long[] shape, long stride, bool reverseInputChannels = false)
        {
            if (node.Input.Count != 2)
                throw Fail($"node '{node.Name}' ({key}) has {node.Input.Count - 1} parameter inputs; torchvision's convolution has a weight and no bias");
            if (!Ints(node, "strides").SequenceEqual([stride, stride]))
                throw Fail($"node '{node.Name}' ({key}) has strides [{string.Join(", ", Ints(node, "strides"))}], a ResNet-18 has {stride}");
            var weight = Parameter(node, 1, key + ".weight", shape);
            if (reverseInputChannels)
            {
                var rgb = weight.flip(1).contiguous();
                weight.Dispose();
                weight = rgb;
            }
            _state[key + ".weight"] = weight;
            return node.Output[0];
        }

        private string BatchNorm(NodeProto node, string key, long channels)
        {
            if (node.Input.Count != 5) throw Fail($"node '{node.Name}' ({key}) has {node.Input.Count} inputs, BatchNormalization has 5");
            var eps = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
            _state[key + ".weight"] = Parameter(node, 1, key + ".weight", [channels]);
            _state[key + ".bias"] = Parameter(node, 2, key + ".bias", [channels]);
            _state[key + ".running_mean"] = Parameter(node, 3, key + ".running_mean", [channels]);
            var variance = Parameter(node, 4, key + ".running_var", [channels]);
            // y = γ (x − μ) / √(σ² + ε) + β; torchvision's layer adds 1e-5, so σ² + ε − 1e-5 gives the same y.
            if (eps != (float)TorchBatchNormEpsilon)
            {
                using Scalar difference = eps - TorchBatchNormEpsilon;   // held (dotnet/TorchSharp#1434)
                var shifted = variance.Plus(difference);
                variance.Dispose();
                variance = shifted;
            }
            _state[key + ".running_var"] = variance;
            return node.Output[0];
        }

        private Tensor Parameter(NodeProto node, int input, string key, long[] shape)
        {
            string name = node.Input[input];
            if (!_initializers.TryGetValue(name, out var init))
                throw Fail($"input '{name}' of node '{node.Name}' (for {key}) is not an initializer");
            if (init.DataType != (int)TensorProto.Types.DataType.Float)
                throw Fail($"initializer '{name}' (for {key}) has data type {init.DataType}, not float32");
            if (!init.Dims.SequenceEqual(shape))
                throw Fail($"initializer '{name}' of node '{node.Name}' has shape [{string.Join(", ", init.Dims)}] where torchvision's {key} has [{string.Join(", ", shape)}]");
            long count = shape.Aggregate(1L, (a, d) => a * d);
            float[] values;
            if (init.RawData.Length > 0)
            {
                if (init.RawData.Length != count * sizeof(float))
                    throw Fail($"initializer '{name}' (for {key}) holds {init.RawData.Length} bytes where [{string.Join(", ", shape)}] float32 needs {count * sizeof(float)}");
                values = MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray();
            }
            else
            {
                if (init.FloatData.Count != count)
                    throw Fail($"initializer '{name}' (for {key}) holds {init.FloatData.Count} values where [{string.Join(", ", shape)}] needs {count}");
                values = [.. init.FloatData];
            }
            return torch.tensor(values, shape);
        }

        private static long[] Ints(NodeProto node, string attribute)
            => node.Attribute.FirstOrDefault(a => a.Name == attribute)?.Ints.ToArray() ?? [];

        private InvalidDataException Fail(string what)
        {
            foreach (var t in _state.Values) t.Dispose();
            return new InvalidDataException(
                $"'{_path}' is not the ImageNet ResNet-18 of {PretrainedBackbone.PackageId} (ResNet18.onnx, torchvision's resnet18 layout): {what}. " +
                "Give that package's ResNet18Onnx/ResNet18.onnx, or a .safetensors file with torchvision's key names.");
        }
    }
}
