using MLNetExtensions.Detection;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Boxes;

namespace MLNetExtensions.Torch.Detection;

/// <summary>
/// The ONNX twin of <see cref="BoxCoder.Decode"/> for SSD: default boxes are initializers, so the exported graph gives
/// boxes, not offsets. Same arithmetic as training's decoder: <c>c = d/w·s + c_p</c>, <c>s = exp(min(d/w, clamp))·s_p</c>.
/// </summary>
internal static class SsdBoxDecoding
{
    /// <summary>(N, A, 4) offsets → (N, A, 4) corners relative to the image.</summary>
    public static string Export(OnnxGraphBuilder g, string regression, DefaultBoxes priors, BoxCoder coder)
    {
        int a = priors.Count;
        var centres = new float[a * 2];
        var sizes = new float[a * 2];
        for (int i = 0; i < a; i++)
        {
            centres[2 * i] = priors.CenterSize[4 * i];
            centres[2 * i + 1] = priors.CenterSize[4 * i + 1];
            sizes[2 * i] = priors.CenterSize[4 * i + 2];
            sizes[2 * i + 1] = priors.CenterSize[4 * i + 3];
        }
        using var scope = g.BeginScope("decode");
        var priorCentres = g.AddInitializer("prior_centres", centres, a, 2);                          // (A, 2)
        var priorSizes = g.AddInitializer("prior_sizes", sizes, a, 2);                                // (A, 2)
        var centreScale = g.AddInitializer("centre_scale", [1f / coder.XWeight, 1f / coder.YWeight], 2);
        var sizeScale = g.AddInitializer("size_scale", [1f / coder.WidthWeight, 1f / coder.HeightWeight], 2);
        var clamp = g.AddInitializer("exp_clamp", [coder.ExpClamp]);
        var half = g.AddInitializer("half", [0.5f]);

        var dxy = OnnxOps.Slice(g, regression, starts: [0], ends: [2], axes: [2]);                  // (N, A, 2)
        var dwh = OnnxOps.Slice(g, regression, starts: [2], ends: [4], axes: [2]);                  // (N, A, 2)
        var centre = OnnxOps.Add(g, OnnxOps.Mul(g, OnnxOps.Mul(g, dxy, centreScale), priorSizes), priorCentres);
        var size = OnnxOps.Mul(g, OnnxOps.Exp(g, OnnxOps.Min(g, OnnxOps.Mul(g, dwh, sizeScale), clamp)), priorSizes);
        var halfSize = OnnxOps.Mul(g, size, half);
        return OnnxOps.Concat(g, [OnnxOps.Sub(g, centre, halfSize), OnnxOps.Add(g, centre, halfSize)], axis: 2);
    }
}
