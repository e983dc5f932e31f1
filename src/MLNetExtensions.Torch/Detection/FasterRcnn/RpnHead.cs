using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// torchvision's <c>RPNHead</c>: a 3×3 convolution with ReLU shared by two 1×1 convolutions, one objectness logit and
/// four box deltas per anchor. Weights drawn from N(0, 0.01), biases 0, as torchvision initialises them.
/// </summary>
public sealed class RpnHead : nn.Module<Tensor, (Tensor Objectness, Tensor Deltas)>
{
    private readonly Conv2d conv;
    private readonly Conv2d cls_logits;
    private readonly Conv2d bbox_pred;
    private readonly int _anchors;

    public RpnHead(long inChannels, int anchorsPerLocation) : base(nameof(RpnHead))
    {
        _anchors = anchorsPerLocation;
        conv = nn.Conv2d(inChannels, inChannels, 3, padding: 1);
        cls_logits = nn.Conv2d(inChannels, anchorsPerLocation, 1);
        bbox_pred = nn.Conv2d(inChannels, 4L * anchorsPerLocation, 1);
        foreach (var c in new[] { conv, cls_logits, bbox_pred })
        {
            nn.init.normal_(c.weight, std: 0.01);
            nn.init.constant_(c.bias!, HeldArithmetic.Zero);
        }
        RegisterComponents();
    }

    /// <summary>(N, C, H, W) → objectness logits (N, H·W·A) and deltas (N, H·W·A, 4), in the anchors' order (one map;
    /// with an FPN the RPN calls it on each level and concatenates).</summary>
    public override (Tensor Objectness, Tensor Deltas) forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var t = nn.functional.relu(PaddedConvolution.Apply(conv, features));
        var objectness = cls_logits.call(t).permute(0, 2, 3, 1).reshape(features.shape[0], -1);                 // (N, H·W·A)
        var d = bbox_pred.call(t);                                                                                // (N, A·4, H, W)
        var deltas = d.view(d.shape[0], _anchors, 4, d.shape[2], d.shape[3]).permute(0, 3, 4, 1, 2).reshape(d.shape[0], -1, 4); // (N, H·W·A, 4)
        return (objectness.MoveToOuterDisposeScope(), deltas.MoveToOuterDisposeScope());
    }

    /// <summary>Emits the head; returns objectness (N, H·W·A) and deltas (N, H·W·A, 4).</summary>
    public (string Objectness, string Deltas) Export(OnnxGraphBuilder g, string features, long height, long width)
        => Export(g, [(features, height, width)]);

    /// <summary>
    /// Emits the head shared by several maps (one set of weights), each (N, C, H_l, W_l); returns the levels'
    /// objectness (N, Σ H_l·W_l·A) and deltas (N, Σ H_l·W_l·A, 4), concatenated in level order.
    /// </summary>
    public (string Objectness, string Deltas) Export(OnnxGraphBuilder g, IReadOnlyList<(string Features, long Height, long Width)> levels)
    {
        var convolve = ConvExport.Shared(g, conv, "conv");
        var classify = ConvExport.Shared(g, cls_logits, "cls_logits");
        var regress = ConvExport.Shared(g, bbox_pred, "bbox_pred");
        var objectness = new List<string>(levels.Count);
        var deltas = new List<string>(levels.Count);
        foreach (var (features, height, width) in levels)
        {
            var t = OnnxOps.Relu(g, convolve(features));
            objectness.Add(OnnxOps.Reshape(g, OnnxOps.Transpose(g, classify(t), [0, 2, 3, 1]), [0, -1]));              // (N, H·W·A)
            var d = OnnxOps.Reshape(g, regress(t), [0, _anchors, 4, height, width]);
            deltas.Add(OnnxOps.Reshape(g, OnnxOps.Transpose(g, d, [0, 3, 4, 1, 2]), [0, -1, 4]));                     // (N, H·W·A, 4)
        }
        return levels.Count == 1 ? (objectness[0], deltas[0]) : (OnnxOps.Concat(g, objectness, axis: 1), OnnxOps.Concat(g, deltas, axis: 1));
    }
}
