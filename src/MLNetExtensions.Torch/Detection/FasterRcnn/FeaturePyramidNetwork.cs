using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNetExtensions.Torch.Training.HeldScalars;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// torchvision's <c>FeaturePyramidNetwork</c> (Lin et al. 2017) with its <c>LastLevelMaxPool</c>: each backbone map
/// gets a 1×1 lateral convolution (<c>inner_blocks</c>) to the common width; from the coarsest map down, the running
/// top-down sum is upsampled (nearest) to the next map's size and added to its lateral; each sum is smoothed by a 3×3
/// convolution (<c>layer_blocks</c>). No norm and no activation, weights drawn as torchvision draws them
/// (Kaiming uniform, a = 1; biases 0), so the state_dict keys (<c>inner_blocks.0.0.weight</c>...) are torchvision's.
/// The extra level is a stride-2 subsampling of the coarsest output (max-pool with a 1×1 kernel), for the RPN only.
/// </summary>
public sealed class FeaturePyramidNetwork : nn.Module<Tensor[], Tensor[]>
{
    private readonly ModuleList<ConvBnAct> inner_blocks;
    private readonly ModuleList<ConvBnAct> layer_blocks;
    private readonly bool _maxPoolLevel;

    /// <param name="inChannels">Channels of the backbone maps, largest map first.</param>
    /// <param name="outChannels">Channels of every output level (torchvision: 256).</param>
    /// <param name="lastLevelMaxPool">Appends the stride-2 subsampling of the coarsest output (torchvision's <c>LastLevelMaxPool</c>).</param>
    public FeaturePyramidNetwork(IReadOnlyList<long> inChannels, long outChannels, bool lastLevelMaxPool = true) : base(nameof(FeaturePyramidNetwork))
    {
        ArgumentNullException.ThrowIfNull(inChannels);
        if (inChannels.Count == 0) throw new ArgumentException("A feature pyramid needs at least one backbone map.", nameof(inChannels));
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        inner_blocks = new ModuleList<ConvBnAct>();
        layer_blocks = new ModuleList<ConvBnAct>();
        foreach (var c in inChannels)
        {
            inner_blocks.Add(new ConvBnAct(c, outChannels, kernelSize: 1, activation: Activation.None, batchNorm: false));
            layer_blocks.Add(new ConvBnAct(outChannels, outChannels, kernelSize: 3, activation: Activation.None, batchNorm: false));
        }
        foreach (var block in inner_blocks.Concat(layer_blocks))
        {
            nn.init.kaiming_uniform_(block.Conv.weight, a: 1);
            nn.init.constant_(block.Conv.bias!, HeldArithmetic.Zero);
        }
        _maxPoolLevel = lastLevelMaxPool;
        OutChannels = outChannels;
        RegisterComponents();
    }

    /// <summary>Channels of every output level.</summary>
    public long OutChannels { get; }

    /// <summary>Output levels: one per backbone map, and the max-pooled one.</summary>
    public int LevelCount => inner_blocks.Count + (_maxPoolLevel ? 1 : 0);

    /// <summary>Backbone maps (N, C_k, H_k, W_k), largest first → the levels (N, out, H_k, W_k), largest first, then the
    /// max-pooled (N, out, ⌈H_last / 2⌉, ⌈W_last / 2⌉).</summary>
    public override Tensor[] forward(Tensor[] maps)
    {
        CheckCount(maps.Length);
        using var scope = NewDisposeScope();
        int n = maps.Length;
        var results = new Tensor[LevelCount];
        var inner = inner_blocks[n - 1].call(maps[n - 1]);                                   // (N, out, H_last, W_last)
        results[n - 1] = layer_blocks[n - 1].call(inner);
        for (int i = n - 2; i >= 0; i--)
        {
            var lateral = inner_blocks[i].call(maps[i]);                                       // (N, out, H_i, W_i)
            var topDown = nn.functional.interpolate(inner, size: [lateral.shape[2], lateral.shape[3]], mode: InterpolationMode.Nearest);
            inner = lateral.Plus(topDown);
            results[i] = layer_blocks[i].call(inner);
        }
        if (_maxPoolLevel) results[n] = nn.functional.max_pool2d(results[n - 1], 1, 2);
        foreach (var r in results) r.MoveToOuterDisposeScope();
        return results;
    }

    /// <summary>Emits <see cref="forward"/> for the named backbone maps; returns the levels' names, largest first.</summary>
    public string[] Export(OnnxGraphBuilder g, IReadOnlyList<string> maps)
    {
        CheckCount(maps.Count);
        int n = maps.Count;
        var results = new string[LevelCount];
        string Inner(int i) => OnnxModuleExport.ExportChild(g, $"inner_blocks.{i}", inner_blocks[i], maps[i]);
        string Layer(int i, string x) => OnnxModuleExport.ExportChild(g, $"layer_blocks.{i}", layer_blocks[i], x);
        var inner = Inner(n - 1);
        results[n - 1] = Layer(n - 1, inner);
        for (int i = n - 2; i >= 0; i--)
        {
            var lateral = Inner(i);
            inner = OnnxOps.Add(g, lateral, OnnxOps.ResizeLike(g, inner, lateral, OnnxResizeMode.Nearest));
            results[i] = Layer(i, inner);
        }
        if (_maxPoolLevel) results[n] = OnnxOps.MaxPool(g, results[n - 1], [1, 1], [2, 2], [0, 0, 0, 0], [1, 1], ceilMode: false);
        return results;
    }

    private void CheckCount(int count)
    {
        if (count != inner_blocks.Count)
            throw new ArgumentException($"The feature pyramid was built for {inner_blocks.Count} backbone maps, but got {count}.");
    }
}
