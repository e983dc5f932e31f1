using MLNetExtensions.Onnx;
using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// torchvision's <c>LevelMapper</c> (FPN paper, eq. 1): the pyramid level a RoI is pooled from,
/// <c>k = ⌊k0 + log2(√area / s0) + ε⌋</c> clamped to [<see cref="MinLevel"/>, <see cref="MaxLevel"/>], level k being
/// the map of stride 2^k; a RoI of √area s0 (224, ImageNet's crop) is pooled at level k0 (4, stride 16), one of half
/// that size a level finer. Computed in float32 as torchvision does.
/// </summary>
public sealed class LevelMapper
{
    /// <summary>torchvision's ε, which puts a RoI of exactly s0 · 2^j on level k0 + j despite rounding.</summary>
    public const float Epsilon = 1e-6f;

    /// <param name="minLevel">The finest level (log2 of its stride).</param>
    /// <param name="maxLevel">The coarsest level.</param>
    /// <param name="canonicalScale">s0: the √area pooled at <paramref name="canonicalLevel"/>.</param>
    /// <param name="canonicalLevel">k0.</param>
    public LevelMapper(int minLevel, int maxLevel, int canonicalScale = 224, int canonicalLevel = 4)
    {
        if (minLevel > maxLevel) throw new ArgumentException($"The finest level ({minLevel}) must not be above the coarsest ({maxLevel}).", nameof(minLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(canonicalScale, 1);
        MinLevel = minLevel;
        MaxLevel = maxLevel;
        CanonicalScale = canonicalScale;
        CanonicalLevel = canonicalLevel;
    }

    public int MinLevel { get; }
    public int MaxLevel { get; }
    public int CanonicalScale { get; }
    public int CanonicalLevel { get; }

    /// <summary>Level indices of (R, 4) corner boxes: (R) int64, 0 for <see cref="MinLevel"/>.</summary>
    public Tensor Map(Tensor boxes)
    {
        using var scope = NewDisposeScope();
        var area = (boxes[.., 2] - boxes[.., 0]) * (boxes[.., 3] - boxes[.., 1]);                 // (R)
        using Scalar scale = CanonicalScale, canonical = CanonicalLevel, epsilon = Epsilon, min = MinLevel, max = MaxLevel;   // held (dotnet/TorchSharp#1434)
        var level = area.sqrt().div(scale).log2().Plus(canonical).Plus(epsilon).floor().clamp(min, max);
        return (level.to_type(ScalarType.Int64) - min).MoveToOuterDisposeScope();
    }

    /// <summary>Emits <see cref="Map"/> for (R, 4) <paramref name="boxes"/>; returns (R) float level indices (0, 1, ...).</summary>
    public string Export(OnnxGraphBuilder g, string boxes)
    {
        string Column(long i) => OnnxOps.Squeeze(g, OnnxOps.Slice(g, boxes, [i], [i + 1], [1]), [1]);
        var area = OnnxOps.Mul(g, OnnxOps.Sub(g, Column(2), Column(0)), OnnxOps.Sub(g, Column(3), Column(1)));   // (R)
        var ratio = OnnxOps.Div(g, OnnxOps.Sqrt(g, area), g.AddInitializer("canonical_scale", [(float)CanonicalScale]));
        var log2 = OnnxOps.Div(g, OnnxOps.Log(g, ratio), g.AddInitializer("ln2", [MathF.Log(2f)]));
        var level = OnnxOps.Add(g, OnnxOps.Add(g, log2, g.AddInitializer("canonical_level", [(float)CanonicalLevel])), g.AddInitializer("epsilon", [Epsilon]));
        level = OnnxOps.Clip(g, OnnxOps.Floor(g, level), MinLevel, MaxLevel);
        return OnnxOps.Sub(g, level, g.AddInitializer("min_level", [(float)MinLevel]));
    }
}
