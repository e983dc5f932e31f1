using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Detection.FasterRcnn;
using MLNetExtensions.Torch.Segmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Torch;

/// <summary>
/// Every network the library trains, built as its trainer builds it (quickstart settings, and widths whose channel counts
/// are not multiples of 16), gives the same parameter gradients in float32 at the ISA oneDNN runs at in this process as
/// in float64 (libtorch's own kernels, not oneDNN): a convolution that oneDNN's AVX-512 kernels get wrong shows as a
/// parameter far off. See <see cref="MLNetExtensions.Torch.Modules.PaddedConvolution"/>.
/// </summary>
[TestClass]
public sealed class NetworkConvolutionGradientTests
{
    private const int Classes = 5;

    [TestMethod]
    [DataRow("ssd vgglite x0.5 (quickstart)")]
    [DataRow("ssd vgglite x0.3")]
    [DataRow("ssd resnet18")]
    [DataRow("grid vgglite x0.5")]
    [DataRow("faster-rcnn resnet18 stride 8 (quickstart)")]
    [DataRow("faster-rcnn vgglite x0.3 fpn")]
    [DataRow("deeplab resnetlite x0.5 (quickstart)")]
    [DataRow("deeplab resnetlite x0.3")]
    [DataRow("deeplab mobilenetv2")]
    [DataRow("deeplab resnet18")]
    [DataRow("deeplab resnet18 output stride 8")]
    public void GradientsMatchFloat64(string network)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        manual_seed(3);
        var (module, forward, size) = Build(network);
        // Eval mode: BatchNorm is then a fixed affine map, so float32 and float64 differ by rounding only (train-mode
        // BatchNorm over a 2×2 map of a batch of 2 amplifies float32 rounding a hundredfold); dropout is off.
        module.eval();
        // Rounding can still put one pre-activation on the other side of a ReLU's kink than float64 does (DeepLab on
        // ResNet-18 at output stride 8, batch 4: one value of 65536 at layer3.0.bn1, 5.8e-9 in float64, moved a BatchNorm
        // bias's gradient by 3.5e-3); float32 then differentiates another function, not wrongly, so the test draws
        // another input. A wrong kernel is wrong on every input.
        ActivationDecisions.OnAnInputWithoutFlips(network, attempt =>
        {
            module.zero_grad();
            module.to(ScalarType.Float32);
            var generator = new Generator((ulong)(11 + attempt));
            var images = rand(new long[] { 2, 3, size, size }, generator: generator) * 255f;
            var (weights, decisions32) = ActivationDecisions.Record(module, () =>
            {
                var outputs = forward(images);
                var weights = outputs.Select(o => randn(o.shape, generator: generator)).ToArray();
                Loss(outputs, weights).backward();
                return weights;
            });
            var grads32 = module.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.detach().to(ScalarType.Float64).clone());
            Assert.IsNotEmpty(grads32);

            module.zero_grad();
            module.to(ScalarType.Float64);
            var (_, decisions64) = ActivationDecisions.Record(module, () =>
            {
                Loss(forward(images.to(ScalarType.Float64)), weights.Select(w => w.to(ScalarType.Float64)).ToArray()).backward();
                return 0;
            });
            return (decisions32, decisions64, flipped =>
            {
                var wrong = new List<string>();
                double largest = grads32.Values.Max(g => g.norm().item<double>());
                foreach (var (name, parameter) in module.named_parameters())
                {
                    if (!grads32.TryGetValue(name, out var g32)) continue;
                    var g64 = parameter.grad!;
                    double norm = g64.norm().item<double>();
                    double error = (g32 - g64).norm().item<double>();
                    // float32 through a few dozen layers stays within ~1e-5 of float64; the oneDNN fault gives errors of the
                    // gradient's own size.
                    if (!(error <= 1e-3 * norm + 1e-6 * largest)) wrong.Add($"{name} {string.Join("x", parameter.shape)}: relative error {error / norm:G3}");
                }
                Assert.IsEmpty(wrong, $"{network} at oneDNN ISA {OneDnnIsa.EnsureUserSettingVisible() ?? "default"} (AVX-512: {OneDnnIsa.RunsAvx512()}), " +
                    $"input {attempt} ({flipped} before it had activation decisions flipped): {string.Join("; ", wrong)}");
            });
        });
    }

    private static Tensor Loss(Tensor[] outputs, Tensor[] weights) => outputs.Zip(weights, (o, w) => (o * w).sum()).Aggregate((a, b) => a + b);

    private static (nn.Module Module, Func<Tensor, Tensor[]> Forward, int Size) Build(string network)
    {
        var cpu = torch.CPU;
        switch (network)
        {
            case "ssd vgglite x0.5 (quickstart)":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, TopDownFusion = true }, 64);
            case "ssd vgglite x0.3":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.3f }, 64);
            case "ssd resnet18":
                return Ssd(new SsdDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.ResNet18 }, 64);
            case "grid vgglite x0.5":
            {
                var model = new GridDetectorModel(new SsdDetectorOptions { Architecture = DetectorArchitecture.Grid, InputWidth = 64, InputHeight = 64, GridSize = 4, WidthMultiplier = 0.5f }, Classes, cpu);
                var net = (nn.Module<Tensor, Tensor>)model.Network;
                return (net, x => [net.call(x)], 64);
            }
            case "faster-rcnn resnet18 stride 8 (quickstart)":
                return FasterRcnn(new FasterRcnnDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.ResNet18, FeatureStride = 8, AnchorSizes = [12f, 24f, 48f] });
            case "faster-rcnn vgglite x0.3 fpn":
                return FasterRcnn(new FasterRcnnDetectorOptions { InputWidth = 64, InputHeight = 64, Backbone = DetectorBackbone.VggLite, WidthMultiplier = 0.3f, Fpn = true, FeatureStride = 8, AnchorSizes = [16f, 32f, 64f] });
            case "deeplab resnetlite x0.5 (quickstart)":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.5f, OutputStride = 16, AsppChannels = 64, LowLevelChannels = 32, Dropout = 0 });
            case "deeplab resnetlite x0.3":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, WidthMultiplier = 0.3f, AsppChannels = 40, LowLevelChannels = 20, Dropout = 0 });
            case "deeplab mobilenetv2":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, Backbone = SegmentationBackboneKind.MobileNetV2, AsppChannels = 40, LowLevelChannels = 20, Dropout = 0 });
            case "deeplab resnet18":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, Backbone = SegmentationBackboneKind.ResNet18, Dropout = 0 });
            case "deeplab resnet18 output stride 8":
                return DeepLab(new DeepLabSegmenterOptions { InputWidth = 64, InputHeight = 64, Backbone = SegmentationBackboneKind.ResNet18, OutputStride = 8, AsppChannels = 64, LowLevelChannels = 32, Dropout = 0 });
            default:
                throw new ArgumentException(network);
        }

        static (nn.Module, Func<Tensor, Tensor[]>, int) Ssd(SsdDetectorOptions o, int size)
        {
            var net = (nn.Module<Tensor, (Tensor, Tensor)>)new SsdDetectorModel(o, Classes, torch.CPU).Network;
            return (net, x => { var (c, b) = net.call(x); return [c, b]; }, size);
        }

        static (nn.Module, Func<Tensor, Tensor[]>, int) FasterRcnn(FasterRcnnDetectorOptions o)
        {
            // The convolutions: backbone, FPN and the RPN head (the box head is linear layers after RoI Align).
            var net = new FasterRcnnDetectorModel(o, Classes, torch.CPU).Faster;
            var head = (nn.Module<Tensor, (Tensor, Tensor)>)net.named_modules().Single(m => m.name == "rpn.head").module;
            return (net, x => net.Features(x).SelectMany(f => { var (objectness, deltas) = head.call(f); return new[] { objectness, deltas }; }).ToArray(), o.InputWidth);
        }

        static (nn.Module, Func<Tensor, Tensor[]>, int) DeepLab(DeepLabSegmenterOptions o)
        {
            var net = new DeepLabNetwork(SegmentationBackboneFactory.Create(o, 3), Classes + 1, o.Normalization, o.AtrousRates, o.AsppChannels, o.LowLevelChannels, o.Dropout);
            return (net, x => [net.call(x)], o.InputWidth);
        }
    }
}
