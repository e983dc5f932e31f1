using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>torchvision's <c>FastRCNNPredictor</c>: C+1 class logits and class-specific box deltas (4 per class) per RoI.</summary>
public sealed class FastRcnnPredictor : nn.Module<Tensor, (Tensor ClassLogits, Tensor BoxRegression)>
{
    private readonly Linear cls_score;
    private readonly Linear bbox_pred;

    public FastRcnnPredictor(long inChannels, int classesWithBackground) : base(nameof(FastRcnnPredictor))
    {
        cls_score = nn.Linear(inChannels, classesWithBackground);
        bbox_pred = nn.Linear(inChannels, 4L * classesWithBackground);
        RegisterComponents();
    }

    /// <summary>(R, D) → (R, C+1) logits and (R, 4(C+1)) deltas.</summary>
    public override (Tensor ClassLogits, Tensor BoxRegression) forward(Tensor x) => (cls_score.call(x), bbox_pred.call(x));

    public (string ClassLogits, string BoxRegression) Export(OnnxGraphBuilder g, string x)
        => (OnnxModuleExport.ExportChild(g, "cls_score", cls_score, x), OnnxModuleExport.ExportChild(g, "bbox_pred", bbox_pred, x));
}
