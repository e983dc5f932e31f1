using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using MLNetExtensions.Torch.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Backbone families a detector can be built on.</summary>
public enum DetectorBackbone
{
    /// <summary>A small VGG-style stack of 3×3 conv + BatchNorm + ReLU; trains in minutes on a CPU.</summary>
    VggLite,
    /// <summary>
    /// torchvision's ResNet-18 (basic residual blocks 64-128-256; layer4 is not used), heavier and stronger; its
    /// state_dict keys are torchvision's, so ImageNet weights load with <see cref="SsdDetectorOptions.BackboneWeightsPath"/>.
    /// </summary>
    ResNet18,
}

/// <summary>
/// SSD's six feature maps: a backbone whose maps at strides 8 and 16 are taken (as SSD takes conv4_3 and fc7 of
/// VGG-16; for ResNet-18 the outputs of layer2 and layer3), then "extra" blocks (1×1 reduce, 3×3 stride-2) for four
/// more maps of falling size. With top-down fusion (an FPN-style step, as in FSSD/DSSD), the stride-8 map also gets
/// the stride-16 map's features: projected by a 1×1 conv, upsampled (nearest) to its size, added, and smoothed by a
/// 3×3 conv. The stride-8 map is where the smallest objects are found, and a shallow backbone gives it little context.
/// </summary>
public sealed class SsdBackbone : FeatureExtractor
{
    private readonly Sequential? body;       // VggLite: input → stride 8
    private readonly Sequential? stage4;     // VggLite: stride 8 → stride 16
    private readonly ResNetBackbone? resnet; // ResNet18: layer1..layer3 (strides 4, 8, 16)
    private readonly ConvBnAct? lateral;     // top-down fusion: stride-16 channels → stride-8 channels (1×1)
    private readonly ConvBnAct? smooth;      // top-down fusion: 3×3 over the sum
    private readonly ModuleList<Sequential> extras;
    private readonly long[] _channels;
    private readonly FrozenBackboneStages _frozen = new();

    /// <summary>Creates the backbone and its extras.</summary>
    /// <param name="kind">The backbone family.</param>
    /// <param name="inChannels">Image channels.</param>
    /// <param name="widthMultiplier">Scales every channel count.</param>
    /// <param name="resNetWeightsPath">ResNet18 only: a .safetensors file with torchvision resnet18 keys loaded into the
    /// ResNet (its <c>fc.*</c> and <c>layer4.*</c> keys are skipped); null for random weights.</param>
    /// <param name="topDownFusion">Adds the stride-16 map's features into the stride-8 map (see the class summary).</param>
    /// <param name="extraBlocks">Extra blocks after the stride-16 map (SSD: 4); 0 gives the stride-8 and stride-16 maps
    /// alone, the trunk a two-stage detector builds on.</param>
    /// <exception cref="Weights.WeightLoadException">The file's keys or shapes do not fit (e.g. a width multiplier other than the file's).</exception>
    public SsdBackbone(DetectorBackbone kind, long inChannels, float widthMultiplier = 1f, string? resNetWeightsPath = null,
        bool topDownFusion = false, int extraBlocks = 4) : base(nameof(SsdBackbone))
    {
        if (extraBlocks is < 0 or > 4) throw new ArgumentOutOfRangeException(nameof(extraBlocks), extraBlocks, "SSD has 0 to 4 extra blocks.");
        long W(long c) => Math.Max(8, (long)Math.Round(c * widthMultiplier));
        long c8, c16;
        if (kind == DetectorBackbone.VggLite)
        {
            if (resNetWeightsPath != null)
                throw new ArgumentException("Backbone weights can be loaded into the ResNet18 backbone only; VggLite has no pretrained counterpart.", nameof(resNetWeightsPath));
            body = nn.Sequential(
                new ConvBnAct(inChannels, W(32), stride: 2), new ConvBnAct(W(32), W(32)),
                new ConvBnAct(W(32), W(64), stride: 2), new ConvBnAct(W(64), W(64)),
                new ConvBnAct(W(64), W(128), stride: 2), new ConvBnAct(W(128), W(128)));
            stage4 = nn.Sequential(new ConvBnAct(W(128), W(256), stride: 2), new ConvBnAct(W(256), W(256)));
            c8 = W(128); c16 = W(256);
        }
        else
        {
            resnet = new ResNetBackbone(ResNetBackboneOptions.ResNet18 with { BaseWidth = W(64), InChannels = inChannels, Stages = 3 });
            if (resNetWeightsPath != null)
                BackboneWeights.LoadInto(resnet, resNetWeightsPath, new WeightLoadOptions { IgnoredPrefixes = ["fc.", "layer4."] });
            c8 = resnet.OutChannels[1]; c16 = resnet.OutChannels[2];
        }
        if (topDownFusion)
        {
            lateral = new ConvBnAct(c16, c8, kernelSize: 1);
            smooth = new ConvBnAct(c8, c8);
        }
        var extraOut = new[] { W(256), W(128), W(128), W(128) }[..extraBlocks];
        extras = new ModuleList<Sequential>();
        long prev = c16;
        foreach (var o in extraOut)
        {
            // No BatchNorm in the extras, as in the original SSD: their maps shrink to 1×1, where the statistics of a
            // small batch are too few values to normalise with.
            extras.Add(nn.Sequential(new ConvBnAct(prev, o / 2, kernelSize: 1, batchNorm: false), new ConvBnAct(o / 2, o, stride: 2, batchNorm: false)));
            prev = o;
        }
        _channels = [c8, c16, .. extraOut];
        RegisterComponents();
    }

    public override long[] OutChannels => _channels;

    /// <summary>The trunk's stages in input order, for <see cref="Freeze"/>: <c>stem</c>, <c>layer1</c> .. <c>layer3</c>
    /// (ResNet18); <c>body</c> (to stride 8) and <c>stage4</c> (VggLite). The top-down fusion and the extras are new layers,
    /// not stages.</summary>
    public IReadOnlyList<string> StageNames => StageNamesOf(resnet != null ? DetectorBackbone.ResNet18 : DetectorBackbone.VggLite);

    /// <summary>The <see cref="StageNames"/> of a backbone of that kind.</summary>
    public static IReadOnlyList<string> StageNamesOf(DetectorBackbone kind) => kind == DetectorBackbone.ResNet18 ? ["stem", "layer1", "layer2", "layer3"] : ["body", "stage4"];

    /// <summary>The stages frozen by <see cref="Freeze"/>, in input order.</summary>
    public IReadOnlyList<string> FrozenStages => _frozen.Names;

    /// <summary>
    /// Freezes the trunk's stages from the first up to and including <paramref name="upToStage"/> (null: all): their
    /// parameters stop requiring gradients and they stay in eval mode from now on (BatchNorm keeps its running
    /// statistics). torchvision's detection builders do the same with <c>trainable_backbone_layers</c> (default 3 of 5:
    /// <c>conv1</c> and <c>layer1</c> frozen) and <c>FrozenBatchNorm2d</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The trunk has no stage of that name; the message lists them.</exception>
    public void Freeze(string? upToStage = null) => _frozen.Freeze(StageNames, StageModules, upToStage, training);

    private IReadOnlyList<nn.Module> StageModules(string stage)
    {
        if (resnet != null) return resnet.StageModules(stage);
        return stage switch
        {
            "body" => [body!],
            "stage4" => [stage4!],
            _ => throw new ArgumentException($"The backbone has no stage '{stage}'. Its stages are: {string.Join(", ", StageNames)}.", nameof(stage)),
        };
    }

    /// <summary>Switches training mode, keeping frozen stages in eval mode.</summary>
    public override void train(bool on = true)
    {
        base.train(on);
        _frozen.KeepInEvalMode();
    }

    /// <summary>Input pixels per map pixel of the <see cref="Trunk"/> maps: 4, 8, 16 for ResNet18 (layer1..layer3), 8, 16 for VggLite.</summary>
    public int[] TrunkStrides => resnet != null ? [4, 8, 16] : [8, 16];

    /// <summary>Channels of the <see cref="Trunk"/> maps.</summary>
    public long[] TrunkChannels => resnet != null ? resnet.OutChannels : [_channels[0], _channels[1]];

    /// <summary>
    /// The trunk's own maps, before any top-down fusion and extras: (N, C_k, H / s_k, W / s_k) at the
    /// <see cref="TrunkStrides"/>, largest first; what a feature pyramid network builds on.
    /// </summary>
    public Tensor[] Trunk(Tensor input)
    {
        if (resnet != null) return resnet.call(input);        // layer1 (stride 4), layer2 (8), layer3 (16)
        var x8 = body!.call(input);
        return [x8, stage4!.call(x8)];
    }

    /// <summary>Emits <see cref="Trunk"/>; returns the names of its maps, largest first.</summary>
    public string[] ExportTrunk(OnnxGraphBuilder g, string input)
    {
        if (resnet != null)
            using (g.BeginScope("resnet")) return resnet.Export(g, input);
        string x8, x16;
        using (g.BeginScope("body")) x8 = OnnxModuleExport.Export(g, body!, input);
        using (g.BeginScope("stage4")) x16 = OnnxModuleExport.Export(g, stage4!, x8);
        return [x8, x16];
    }

    /// <summary>(N, C, H, W) → six maps (N, C_k, H_k, W_k), largest first.</summary>
    public override Tensor[] forward(Tensor input)
    {
        var trunk = Trunk(input);
        var maps = new List<Tensor>(6) { trunk[^2] };
        var x = trunk[^1];
        maps.Add(x);
        if (lateral != null)
        {
            var top = nn.functional.interpolate(lateral.call(x), size: [maps[0].shape[2], maps[0].shape[3]], mode: InterpolationMode.Nearest);
            maps[0] = smooth!.call(maps[0].Plus(top));                         // (N, C8, H/8, W/8)
        }
        foreach (var e in extras)
        {
            x = e.call(x);
            maps.Add(x);
        }
        return maps.ToArray();
    }

    public override string[] Export(OnnxGraphBuilder g, string input)
    {
        var trunk = ExportTrunk(g, input);
        var maps = new List<string>(6) { trunk[^2] };
        var x = trunk[^1];
        maps.Add(x);
        if (lateral != null)
        {
            string projected;
            using (g.BeginScope("lateral")) projected = OnnxModuleExport.Export(g, lateral, x);
            var top = OnnxOps.ResizeLike(g, projected, maps[0], OnnxResizeMode.Nearest);
            using (g.BeginScope("smooth")) maps[0] = OnnxModuleExport.Export(g, smooth!, OnnxOps.Add(g, maps[0], top));
        }
        for (int i = 0; i < extras.Count; i++)
        {
            using (g.BeginScope($"extras.{i}")) x = OnnxModuleExport.Export(g, extras[i], x);
            maps.Add(x);
        }
        return maps.ToArray();
    }
}
