using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Backbones;

/// <summary>
/// torchvision's ResNet without its classifier: stem (7×7/2 conv, BatchNorm, ReLU, 3×3/2 max-pool) and layer1..layer4,
/// returning each stage's output (C2..C5, strides 4, 8, 16, 32 unless dilated). Children are named as torchvision's
/// (<c>conv1</c>, <c>bn1</c>, <c>layerK.i.conv1</c>, ..., <c>layerK.0.downsample.0</c>), so its state_dict keys are
/// torchvision's minus <c>fc.*</c> and torchvision weights load with <see cref="Weights.SafetensorsWeights.LoadInto"/>
/// (ignoring the prefix <c>fc.</c>). Exports to ONNX with <see cref="Export"/>.
/// </summary>
public sealed class ResNetBackbone : FeatureExtractor
{
    private readonly Conv2d conv1;
    private readonly BatchNorm bn1;
    private readonly Sequential layer1;
    private readonly Sequential? layer2;
    private readonly Sequential? layer3;
    private readonly Sequential? layer4;
    private readonly long[] _channels;
    private readonly long[] _strides;

    /// <summary>Creates the backbone with random (TorchSharp default) weights.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public ResNetBackbone(ResNetBackboneOptions options) : base(nameof(ResNetBackbone))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        long width = options.BaseWidth;
        conv1 = nn.Conv2d(options.InChannels, width, 7, stride: 2, padding: 3, bias: false);
        bn1 = new Training.HeldScalars.BatchNorm2d(width);

        // torchvision's _make_layer, with its running input width and dilation.
        long inChannels = width, dilation = 1, stride = 4;
        var channels = new List<long>();
        var strides = new List<long>();
        Sequential MakeLayer(int index)
        {
            long planes = width << index;
            long layerStride = index == 0 ? 1 : 2;
            long previousDilation = dilation;
            if (index > 0 && options.ReplaceStrideWithDilation[index - 1])
            {
                dilation *= layerStride;
                layerStride = 1;
            }
            stride *= layerStride;
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int i = 0; i < options.Layers[index]; i++)
            {
                var (s, d) = i == 0 ? (layerStride, previousDilation) : (1L, dilation);
                if (options.Block == ResNetBlock.Basic)
                {
                    blocks.Add(new ResidualBlock(inChannels, planes, s, d));
                    inChannels = planes;
                }
                else
                {
                    blocks.Add(new ResNetBottleneck(inChannels, planes, s, d));
                    inChannels = planes * ResNetBottleneck.Expansion;
                }
            }
            channels.Add(inChannels);
            strides.Add(stride);
            return nn.Sequential(blocks.ToArray());
        }
        layer1 = MakeLayer(0);
        if (options.Stages > 1) layer2 = MakeLayer(1);
        if (options.Stages > 2) layer3 = MakeLayer(2);
        if (options.Stages > 3) layer4 = MakeLayer(3);
        _channels = [.. channels];
        _strides = [.. strides];
        RegisterComponents();
    }

    /// <summary>The options the backbone was built with.</summary>
    public ResNetBackboneOptions Options { get; }

    /// <summary>Channels of each returned map (layer1 first).</summary>
    public override long[] OutChannels => _channels;

    /// <summary>Input pixels per map pixel of each returned map (4, 8, 16, 32 without dilation).</summary>
    public long[] OutStrides => _strides;

    /// <summary>The stages in input order, for freezing: <c>stem</c>, then <c>layer1</c> .. <c>layer{Stages}</c>.</summary>
    public IReadOnlyList<string> StageNames => ["stem", .. Enumerable.Range(1, _channels.Length).Select(i => $"layer{i}")];

    /// <summary><c>stem</c> is <c>conv1</c> and <c>bn1</c>; <c>layerK</c> is the child of that name.</summary>
    /// <exception cref="ArgumentException">The backbone has no stage of that name; the message lists them.</exception>
    public IReadOnlyList<nn.Module> StageModules(string stage)
    {
        if (!StageNames.Contains(stage))
            throw new ArgumentException($"The backbone has no stage '{stage}'. Its stages are: {string.Join(", ", StageNames)}.", nameof(stage));
        string[] names = stage == "stem" ? ["conv1", "bn1"] : [stage];
        var children = named_children().ToDictionary(c => c.name, c => c.module);
        return names.Select(n => children[n]).ToArray();
    }

    /// <summary>(N, C, H, W) → the outputs of layer1..layer{Stages}, (N, C_k, H / stride_k, W / stride_k).</summary>
    public override Tensor[] forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = nn.functional.relu(bn1.call(PaddedConvolution.Apply(conv1, input)));
        x = nn.functional.max_pool2d(x, 3, 2, 1);
        var maps = new List<Tensor>(4);
        foreach (var layer in Layers())
        {
            x = layer.call(x);
            maps.Add(x);
        }
        return maps.Select(m => m.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>Emits the eval-mode forward of <paramref name="input"/>; returns the names of the layer1..layer{Stages} maps.</summary>
    /// <exception cref="OnnxExportException">The backbone is in training mode.</exception>
    public override string[] Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var x = OnnxOps.Relu(graph, ConvExport.Emit(graph, conv1, "conv1", bn1, "bn1", input));
        x = OnnxOps.MaxPool(graph, x, [3, 3], [2, 2], OnnxOps.SymmetricPads([1, 1]), [1, 1], ceilMode: false);
        var maps = new List<string>(4);
        int k = 1;
        foreach (var layer in Layers())
        {
            x = OnnxModuleExport.ExportChild(graph, $"layer{k++}", layer, x);
            maps.Add(x);
        }
        return [.. maps];
    }

    private IEnumerable<Sequential> Layers()
    {
        yield return layer1;
        if (layer2 != null) yield return layer2;
        if (layer3 != null) yield return layer3;
        if (layer4 != null) yield return layer4;
    }
}
