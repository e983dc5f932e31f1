using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

[TestClass]
public sealed class ChannelsLastLayoutTests
{
    [TestMethod]
    public void ApplyKeepsShapeAndValuesAndMakesChannelsInnermost()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var x = arange(2 * 5 * 4 * 3, ScalarType.Float32).reshape(2, 5, 4, 3);
        Assert.IsFalse(ChannelsLastLayout.IsChannelsLast(x));

        var y = ChannelsLastLayout.Apply(x);
        CollectionAssert.AreEqual(x.shape, y.shape);
        CollectionAssert.AreEqual(new long[] { 60, 1, 15, 5 }, y.stride());
        Assert.IsTrue(ChannelsLastLayout.IsChannelsLast(y));
        Assert.IsTrue(x.allclose(y, rtol: 0, atol: 0));
        Assert.AreSame(y, ChannelsLastLayout.Apply(y), "a channels-last tensor is returned as it is");
        var flat = arange(6, ScalarType.Float32).reshape(2, 3);
        Assert.AreSame(flat, ChannelsLastLayout.Apply(flat), "only (N, C, H, W) tensors are laid out");
    }

    /// <summary>
    /// The detection networks compute in channels-last memory on the CPU, and DeepLab does when asked: every feature map
    /// the backbone gives the detection heads, and every BatchNorm's output in DeepLab (ASPP's and the decoder's
    /// concatenations included), is channels-last (a layer that went back to NCHW, such as a padded convolution's input
    /// padding, would show here); DeepLab's logits are NCHW; outputs and parameter gradients are NCHW's within float32
    /// rounding.
    /// </summary>
    [TestMethod]
    [DataRow("ssd vgglite x0.5 fusion (quickstart)")]
    [DataRow("ssd vgglite x0.3")]
    [DataRow("ssd resnet18")]
    [DataRow("grid vgglite x0.5")]
    [DataRow("faster-rcnn resnet18 stride 8 (quickstart)")]
    [DataRow("faster-rcnn vgglite x0.3 fpn")]
    [DataRow("deeplab resnetlite x0.5 (quickstart)")]
    [DataRow("deeplab mobilenetv2")]
    [DataRow("deeplab resnet18 output stride 8")]
    public void NetworkComputesChannelsLastAndAsNchw(string network)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(4);
        var (module, setLayout, forward) = Build(network);
        // Eval mode: BatchNorm is a fixed affine map, so the two layouts differ by float32 rounding only (batch statistics
        // over the last, 1×1 maps of a small batch amplify it); the layout is the same in training.
        module.eval();
        // The two layouts round differently, which can put a pre-activation on the other side of a ReLU's kink: then
        // the next input (see ActivationDecisions).
        ActivationDecisions.OnAnInputWithoutFlips($"{network} channels-last and NCHW", attempt =>
        {
            var images = rand(new long[] { 4, 3, 64, 64 }, generator: new Generator((ulong)(4 + attempt))) * 255f;
            setLayout(true);   // the detection networks' default; DeepLab's is NCHW (DeepLabNetwork.ChannelsLast)
            var maps = new List<(string Description, bool ChannelsLast, bool SinglePixel)>();
            var ((outputs, gradients), decisions) = ActivationDecisions.Record(module, () => Step(module, forward, images, new Generator(5), maps));
            Assert.IsNotEmpty(maps);
            var nchw = maps.Where(m => !m.ChannelsLast).Select(m => m.Description).ToList();
            Assert.IsEmpty(nchw, $"maps not channels-last: {string.Join("; ", nchw)}");
            if (module is DeepLabNetwork)
                Assert.IsTrue(outputs[0].is_contiguous(), $"DeepLab's logits are NCHW: strides {string.Join(",", outputs[0].stride())}");

            maps.Clear();
            setLayout(false);
            var ((outputsNchw, gradientsNchw), decisionsNchw) = ActivationDecisions.Record(module, () => Step(module, forward, images, new Generator(5), maps));
            setLayout(true);
            Assert.IsTrue(maps.All(m => !m.ChannelsLast || m.SinglePixel), "ChannelsLast = false computes in NCHW");
            return (decisions, decisionsNchw, _ =>
            {
                for (int i = 0; i < outputs.Length; i++)
                    Assert.IsLessThan(1e-5, RelativeError(outputs[i], outputsNchw[i]), $"output {i}");
                foreach (var (name, g) in gradients)
                    Assert.IsLessThan(1e-4, RelativeError(g, gradientsNchw[name]), $"gradient of {name} (input {attempt})");
            });
        });
    }

    /// <summary>The network, its layout switch, and a forward that gives its outputs and reports its feature maps.</summary>
    private static (nn.Module, Action<bool>, Func<Tensor, List<(string, bool, bool)>, Tensor[]>) Build(string network)
    {
        const int classes = 5;
        switch (network)
        {
            case "ssd vgglite x0.5 fusion (quickstart)":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, TopDownFusion = true });
            case "ssd vgglite x0.3":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.3f });
            case "ssd resnet18":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.ResNet18 });
            case "grid vgglite x0.5":
            {
                var net = (GridNetwork)new GridDetectorModel(new SsdDetectorOptions { Architecture = DetectorArchitecture.Grid, InputWidth = 64, InputHeight = 64, GridSize = 4, WidthMultiplier = 0.5f }, classes, torch.CPU).Network;
                return (net, b => net.ChannelsLast = b, (x, maps) => Hooked(net, maps, () => [net.call(x)]));
            }
            case "faster-rcnn resnet18 stride 8 (quickstart)":
                return FasterRcnn(new FasterRcnnDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.ResNet18, FeatureStride = 8, AnchorSizes = [12f, 24f, 48f] });
            case "faster-rcnn vgglite x0.3 fpn":
                return FasterRcnn(new FasterRcnnDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.VggLite, WidthMultiplier = 0.3f, Fpn = true, FeatureStride = 8, AnchorSizes = [16f, 32f, 64f] });
            case "deeplab resnetlite x0.5 (quickstart)":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, OutputStride = 16, AsppChannels = 64, LowLevelChannels = 32, Dropout = 0 });
            case "deeplab mobilenetv2":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, Backbone = SegmentationBackboneKind.MobileNetV2, AsppChannels = 40, LowLevelChannels = 20, Dropout = 0 });
            case "deeplab resnet18 output stride 8":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, Backbone = SegmentationBackboneKind.ResNet18, OutputStride = 8, AsppChannels = 64, LowLevelChannels = 32, Dropout = 0 });
            default:
                throw new ArgumentException(network);
        }

        static (nn.Module, Action<bool>, Func<Tensor, List<(string, bool, bool)>, Tensor[]>) DeepLab(DeepLabSegmenterOptions o)
        {
            // Every BatchNorm's output: the backbone's, ASPP's branches and projection (after its concatenation), the decoder's.
            var net = new DeepLabNetwork(SegmentationBackboneFactory.Create(o, 3), classes, o.Normalization, o.AtrousRates, o.AsppChannels, o.LowLevelChannels, o.Dropout);
            return (net, b => net.ChannelsLast = b, (x, maps) =>
            {
                var hooks = net.modules().OfType<TorchSharp.Modules.BatchNorm>()
                    .Select(bn => bn.register_forward_hook((_, _, output) => { maps.Add(Describe(output)); return output; })).ToList();
                try
                {
                    return [net.call(x)];
                }
                finally
                {
                    hooks.ForEach(h => h.remove());
                }
            });
        }

        static (nn.Module, Action<bool>, Func<Tensor, List<(string, bool, bool)>, Tensor[]>) Ssd(SsdDetectorOptions o)
        {
            var net = (SsdNetwork)new SsdDetectorModel(o, classes, torch.CPU).Network;
            return (net, b => net.ChannelsLast = b, (x, maps) => Hooked(net, maps, () => { var (c, r) = net.call(x); return [c, r]; }));
        }

        static (nn.Module, Action<bool>, Func<Tensor, List<(string, bool, bool)>, Tensor[]>) FasterRcnn(FasterRcnnDetectorOptions o)
        {
            // The maps the RPN and the RoI heads read, and the RPN head's outputs on them.
            var net = new FasterRcnnDetectorModel(o, classes, torch.CPU).Faster;
            var head = (nn.Module<Tensor, (Tensor, Tensor)>)net.named_modules().Single(m => m.name == "rpn.head").module;
            return (net, b => net.ChannelsLast = b, (x, maps) =>
            {
                var features = net.Features(x);
                maps.AddRange(features.Select(Describe));
                return features.SelectMany(f => { var (objectness, deltas) = head.call(f); return new[] { f, objectness, deltas }; }).ToArray();
            });
        }
    }

    /// <summary>Runs <paramref name="forward"/> with a hook on the network's <c>backbone</c> child that reports its maps
    /// (the network disposes them when its forward returns, so the hook keeps what it needs of them).</summary>
    private static Tensor[] Hooked(nn.Module network, List<(string, bool, bool)> maps, Func<Tensor[]> forward)
    {
        var trunk = (nn.Module<Tensor, Tensor[]>)network.named_children().Single(c => c.name == "backbone").module;
        var hook = trunk.register_forward_hook((_, _, output) => { maps.AddRange(output.Select(Describe)); return output; });
        try
        {
            return forward();
        }
        finally
        {
            hook.remove();
        }
    }

    private static (string, bool, bool) Describe(Tensor map)
        => ($"{string.Join("x", map.shape)} strides {string.Join(",", map.stride())}", ChannelsLastLayout.IsChannelsLast(map), map.shape[2] * map.shape[3] == 1);

    private static (Tensor[] Outputs, Dictionary<string, Tensor> Gradients) Step(nn.Module network, Func<Tensor, List<(string, bool, bool)>, Tensor[]> forward,
        Tensor images, Generator generator, List<(string, bool, bool)> maps)
    {
        network.zero_grad();
        var outputs = forward(images, maps);
        outputs.Select(o => (o * randn(o.shape, generator: generator)).sum()).Aggregate((a, b) => a + b).backward();
        var gradients = network.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        return (outputs.Select(o => o.detach()).ToArray(), gradients);
    }

    private static double RelativeError(Tensor a, Tensor reference)
        => (a - reference).abs().max().item<float>() / Math.Max(reference.abs().max().item<float>(), 1e-12f);
}
