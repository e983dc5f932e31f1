using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Backbones;

/// <summary>
/// torchvision's MobileNetV2 <c>features</c> (stem 3×3/2 conv, 17 <see cref="InvertedResidual"/> blocks, 1×1 conv to
/// 1280 channels, all ReLU6), returning four maps: after <c>features.3</c> (stride 4, DeepLab v3+'s low-level
/// features), <c>features.6</c> (stride 8), <c>features.13</c> (stride 16) and <c>features.18</c> (stride 32, or 16/8
/// with <see cref="MobileNetV2BackboneOptions.OutputStride"/>). State_dict keys are torchvision's minus
/// <c>classifier.*</c>, so its weights load with <see cref="Weights.SafetensorsWeights.LoadInto"/>.
/// </summary>
public sealed class MobileNetV2Backbone : FeatureExtractor
{
    // torchvision's inverted_residual_setting: expansion t, channels c, repeats n, first stride s.
    private static readonly (int T, int C, int N, int S)[] Setting =
        [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    private readonly ModuleList<nn.Module<Tensor, Tensor>> features;
    private readonly int[] _mapIndices;
    private readonly long[] _channels;
    private readonly long[] _strides;

    /// <summary>Creates the backbone with random (TorchSharp default) weights.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public MobileNetV2Backbone(MobileNetV2BackboneOptions options) : base(nameof(MobileNetV2Backbone))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        long inChannels = MakeDivisible(32 * options.WidthMultiplier);
        long lastChannels = MakeDivisible(1280 * Math.Max(1f, options.WidthMultiplier));
        features = new ModuleList<nn.Module<Tensor, Tensor>>();
        features.Add(new ConvBnAct(options.InChannels, inChannels, kernelSize: 3, stride: 2, activation: Activation.ReLU6));

        long stride = 2, rate = 1;
        var nominalStrides = new List<long> { 2 };
        var actualStrides = new List<long> { 2 };
        var blockChannels = new List<long> { inChannels };
        foreach (var (t, c, n, s) in Setting)
        {
            long outChannels = MakeDivisible(c * options.WidthMultiplier);
            for (int i = 0; i < n; i++)
            {
                long blockStride = i == 0 ? s : 1, blockRate = 1;
                if (stride == options.OutputStride)
                {
                    blockRate = rate;
                    rate *= blockStride;
                    blockStride = 1;
                }
                else
                {
                    stride *= blockStride;
                }
                features.Add(new InvertedResidual(inChannels, outChannels, blockStride, t, blockRate));
                inChannels = outChannels;
                nominalStrides.Add(nominalStrides[^1] * (i == 0 ? s : 1));
                actualStrides.Add(stride);
                blockChannels.Add(outChannels);
            }
        }
        features.Add(new ConvBnAct(inChannels, lastChannels, kernelSize: 1, activation: Activation.ReLU6));
        nominalStrides.Add(nominalStrides[^1]);
        actualStrides.Add(stride);
        blockChannels.Add(lastChannels);

        // The last block at each nominal stride 4, 8, 16, and the final 1×1 conv: features.3, .6, .13, .18.
        _mapIndices = [nominalStrides.LastIndexOf(4), nominalStrides.LastIndexOf(8), nominalStrides.LastIndexOf(16), features.Count - 1];
        _channels = _mapIndices.Select(i => blockChannels[i]).ToArray();
        _strides = _mapIndices.Select(i => actualStrides[i]).ToArray();
        RegisterComponents();
    }

    /// <summary>The options the backbone was built with.</summary>
    public MobileNetV2BackboneOptions Options { get; }

    /// <summary>Channels of each returned map.</summary>
    public override long[] OutChannels => _channels;

    /// <summary>Input pixels per map pixel of each returned map (4, 8, 16, 32 at output stride 32).</summary>
    public long[] OutStrides => _strides;

    /// <summary>(N, C, H, W) → four maps (N, C_k, H / stride_k, W / stride_k), stride-4 low-level features first.</summary>
    public override Tensor[] forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var maps = new List<Tensor>(4);
        var x = input;
        for (int i = 0; i < features.Count; i++)
        {
            x = features[i].call(x);
            if (_mapIndices.Contains(i)) maps.Add(x);
        }
        return maps.Select(m => m.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>Emits the eval-mode forward of <paramref name="input"/>; returns the names of the four maps.</summary>
    /// <exception cref="OnnxExportException">The backbone is in training mode.</exception>
    public override string[] Export(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        OnnxModuleExport.RequireEval(this, OnnxModuleExport.PathOf(graph, ""));
        var maps = new List<string>(4);
        var x = input;
        for (int i = 0; i < features.Count; i++)
        {
            x = OnnxModuleExport.ExportChild(graph, $"features.{i}", features[i], x);
            if (_mapIndices.Contains(i)) maps.Add(x);
        }
        return [.. maps];
    }

    /// <summary>torchvision's <c>_make_divisible</c>: the nearest multiple of 8, at least 8, never 10% below the value.</summary>
    internal static long MakeDivisible(double value, long divisor = 8)
    {
        long rounded = Math.Max(divisor, (long)(value + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * value ? rounded + divisor : rounded;
    }
}
