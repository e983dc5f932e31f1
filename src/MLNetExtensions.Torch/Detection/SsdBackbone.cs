using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Backbone families a detector can be built on.</summary>
public enum DetectorBackbone
{
    /// <summary>A small VGG-style stack of 3×3 conv + BatchNorm + ReLU; trains in minutes on a CPU.</summary>
    VggLite,
    /// <summary>ResNet-18's layout (basic residual blocks 64-128-256-512), heavier and stronger.</summary>
    ResNet18,
}

/// <summary>
/// SSD's six feature maps: a backbone whose maps at strides 8 and 16 are taken (as SSD takes conv4_3 and fc7 of
/// VGG-16), then "extra" blocks (1×1 reduce, 3×3 stride-2) for four more maps of falling size.
/// </summary>
public sealed class SsdBackbone : FeatureExtractor
{
    private readonly Sequential body;      // input → stride 8
    private readonly Sequential stage4;    // stride 8 → stride 16
    private readonly ModuleList<Sequential> extras;
    private readonly long[] _channels;

    public SsdBackbone(DetectorBackbone kind, long inChannels, float widthMultiplier = 1f) : base(nameof(SsdBackbone))
    {
        long W(long c) => Math.Max(8, (long)Math.Round(c * widthMultiplier));
        long c8, c16;
        if (kind == DetectorBackbone.VggLite)
        {
            body = nn.Sequential(
                new ConvBnAct(inChannels, W(32), stride: 2), new ConvBnAct(W(32), W(32)),
                new ConvBnAct(W(32), W(64), stride: 2), new ConvBnAct(W(64), W(64)),
                new ConvBnAct(W(64), W(128), stride: 2), new ConvBnAct(W(128), W(128)));
            stage4 = nn.Sequential(new ConvBnAct(W(128), W(256), stride: 2), new ConvBnAct(W(256), W(256)));
            c8 = W(128); c16 = W(256);
        }
        else
        {
            body = nn.Sequential(
                new ConvBnAct(inChannels, W(64), kernelSize: 7, stride: 2),
                new ResidualBlock(W(64), W(64), stride: 2), new ResidualBlock(W(64), W(64)),
                new ResidualBlock(W(64), W(128), stride: 2), new ResidualBlock(W(128), W(128)));
            stage4 = nn.Sequential(new ResidualBlock(W(128), W(256), stride: 2), new ResidualBlock(W(256), W(256)));
            c8 = W(128); c16 = W(256);
        }
        var extraOut = new[] { W(256), W(128), W(128), W(128) };
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

    /// <summary>(N, C, H, W) → six maps (N, C_k, H_k, W_k), largest first.</summary>
    public override Tensor[] forward(Tensor input)
    {
        var maps = new List<Tensor>(6);
        var x = body.call(input);
        maps.Add(x);
        x = stage4.call(x);
        maps.Add(x);
        foreach (var e in extras)
        {
            x = e.call(x);
            maps.Add(x);
        }
        return maps.ToArray();
    }

    public override string[] Export(OnnxGraphBuilder g, string input)
    {
        var maps = new List<string>(6);
        string x;
        using (g.BeginScope("body")) x = OnnxModuleExport.Export(g, body, input);
        maps.Add(x);
        using (g.BeginScope("stage4")) x = OnnxModuleExport.Export(g, stage4, x);
        maps.Add(x);
        for (int i = 0; i < extras.Count; i++)
        {
            using (g.BeginScope($"extras.{i}")) x = OnnxModuleExport.Export(g, extras[i], x);
            maps.Add(x);
        }
        return maps.ToArray();
    }
}
