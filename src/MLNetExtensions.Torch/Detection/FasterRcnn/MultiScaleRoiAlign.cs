using MLNetExtensions.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// torchvision's <c>MultiScaleRoIAlign</c>: each RoI pooled by <see cref="RoiAlign"/> from the one map its
/// <see cref="LevelMapper"/> level names; the levels are the maps' strides, 2^round(log2(image / map)), as torchvision
/// infers its scales, and one map is plain RoI Align. Unlike torchvision's pooler (<c>aligned=False</c>) the alignment
/// is an argument, Faster R-CNN's <see cref="RoiHeads.RoiSettings.Aligned"/>.
/// </summary>
public sealed class MultiScaleRoiAlign
{
    private readonly float[] _scales;

    /// <param name="spatialScales">Feature pixels per input pixel of each map, finest first (powers of two).</param>
    /// <param name="outputSize">Output rows and columns per RoI.</param>
    /// <param name="samplingRatio">Samples per bin and axis; 0 adaptive.</param>
    /// <param name="aligned">Shift the boxes by −0.5 feature pixel.</param>
    /// <param name="canonicalScale">The level mapper's s0.</param>
    /// <param name="canonicalLevel">The level mapper's k0.</param>
    public MultiScaleRoiAlign(IReadOnlyList<float> spatialScales, int outputSize, int samplingRatio, bool aligned, int canonicalScale = 224, int canonicalLevel = 4)
    {
        ArgumentNullException.ThrowIfNull(spatialScales);
        if (spatialScales.Count == 0 || spatialScales.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException($"Spatial scales must be positive and finite, at least one; got [{string.Join(", ", spatialScales)}].", nameof(spatialScales));
        _scales = spatialScales.ToArray();
        OutputSize = outputSize;
        SamplingRatio = samplingRatio;
        Aligned = aligned;
        if (_scales.Length > 1)
        {
            // torchvision: k_min = −log2(first scale), k_max = −log2(last scale).
            int Level(float scale) => (int)-MathF.Log2(scale);
            Mapper = new LevelMapper(Level(_scales[0]), Level(_scales[^1]), canonicalScale, canonicalLevel);
        }
    }

    public IReadOnlyList<float> SpatialScales => _scales;
    public int OutputSize { get; }
    public int SamplingRatio { get; }
    public bool Aligned { get; }

    /// <summary>The level of each RoI; null for a single map.</summary>
    public LevelMapper? Mapper { get; }

    /// <summary>(R, 5) RoIs (batch index, corners in input pixels) from one map per level → (R, C, s, s).</summary>
    public Tensor Apply(IReadOnlyList<Tensor> features, Tensor rois)
    {
        CheckCount(features.Count);
        if (Mapper is null) return RoiAlign.Apply(features[0], rois, OutputSize, OutputSize, _scales[0], SamplingRatio, Aligned);
        using var scope = NewDisposeScope();
        var levels = Mapper.Map(rois[.., 1..]);                                                       // (R)
        var first = features[0];
        var result = zeros(rois.shape[0], first.shape[1], OutputSize, OutputSize, dtype: first.dtype, device: first.device);   // (R, C, s, s)
        for (int l = 0; l < _scales.Length; l++)
        {
            using Scalar level = l;                                                                     // held (dotnet/TorchSharp#1434)
            var index = levels.eq(level).nonzero().view(-1);                                            // (R_l)
            if (index.shape[0] == 0) continue;
            var pooled = RoiAlign.Apply(features[l], rois.index_select(0, index), OutputSize, OutputSize, _scales[l], SamplingRatio, Aligned);
            result = result.index_copy(0, index, pooled);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Emits <see cref="Apply"/> for (R, 4) <paramref name="boxes"/> and their (R) int64 <paramref name="batchIndices"/>:
    /// every RoI pooled from every map (ONNX RoiAlign-16), the mapped level's kept by <c>Where</c>.
    /// </summary>
    public string Export(OnnxGraphBuilder g, IReadOnlyList<string> features, string boxes, string batchIndices)
    {
        CheckCount(features.Count);
        string Pool(int l) => OnnxOps.RoiAlign(g, features[l], boxes, batchIndices, OutputSize, OutputSize, _scales[l], SamplingRatio, Aligned);
        if (Mapper is null) return Pool(0);
        var levels = OnnxOps.Reshape(g, Mapper.Export(g, boxes), [-1, 1, 1, 1]);                       // (R, 1, 1, 1)
        var result = Pool(0);                                                                          // (R, C, s, s)
        for (int l = 1; l < _scales.Length; l++)
            result = OnnxOps.Where(g, OnnxOps.Equal(g, levels, g.AddInitializer("level", [(float)l])), Pool(l), result);
        return result;
    }

    private void CheckCount(int count)
    {
        if (count != _scales.Length)
            throw new ArgumentException($"The pooler was built for {_scales.Length} maps, but got {count}.");
    }
}
