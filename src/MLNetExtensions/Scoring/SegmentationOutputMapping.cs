using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>Input row of <see cref="SegmentationOutputMapping"/>: what a segmenter's ONNX graph gives for one image.</summary>
public sealed class SegmentationOutputInput
{
    [ColumnName(ScoringColumns.OnnxLogits)] public float[] Logits = [];
    [ColumnName(ScoringColumns.OnnxLogitsShape)] public float[] Shape = [];
    [ColumnName(ScoringColumns.OriginalWidth)] public float Width;
    [ColumnName(ScoringColumns.OriginalHeight)] public float Height;
}

/// <summary>Output row of <see cref="SegmentationOutputMapping"/>.</summary>
public sealed class SegmentationOutputRow
{
    [ColumnName(SegmentationColumns.PredictedMask)] public byte[] PredictedMask = [];
    [ColumnName(SegmentationColumns.PredictedMaskWidth)] public int Width;
    [ColumnName(SegmentationColumns.PredictedMaskHeight)] public int Height;
}

/// <summary>
/// Turns a segmenter's logits (K, h, w) at the network's input size into <c>PredictedMask</c>: the arg-max class per
/// pixel, resized to the original image by nearest neighbour (pixel-centre sampling, as training resized its masks),
/// H×W row-major, with its width and height. Stateless: the logits' shape comes from the ONNX graph's <see cref="ScoringColumns.OnnxLogitsShape"/>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class SegmentationOutputMapping : CustomMappingFactory<SegmentationOutputInput, SegmentationOutputRow>
{
    public const string ContractName = "MLNetExtensions.SegmentationOutput.v1";

    public override Action<SegmentationOutputInput, SegmentationOutputRow> GetMapping() => Map;

    internal static void Map(SegmentationOutputInput input, SegmentationOutputRow output)
    {
        if (input.Shape.Length != 3)
            throw new InvalidDataException($"The segmenter gave a logits shape of {input.Shape.Length} values; expected [K, H, W]. The model file does not match this library's segmenter contract.");
        int k = (int)input.Shape[0], h = (int)input.Shape[1], w = (int)input.Shape[2];
        if (k < 1 || k > SegmentationColumns.IgnoreIndex || h < 1 || w < 1 || input.Logits.Length != (long)k * h * w)
            throw new InvalidDataException($"The segmenter gave {input.Logits.Length} logits for shape [{k}, {h}, {w}]. The model file does not match this library's segmenter contract.");
        var classes = ArgMax(input.Logits, k, h * w);
        int width = (int)input.Width, height = (int)input.Height;
        var mask = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(h - 1, (int)((y + 0.5) * h / height));
            for (int x = 0; x < width; x++)
            {
                int sx = Math.Min(w - 1, (int)((x + 0.5) * w / width));
                mask[y * width + x] = classes[sy * w + sx];
            }
        }
        output.PredictedMask = mask;
        output.Width = width;
        output.Height = height;
    }

    /// <summary>Per pixel of (K, P) planar logits, the class with the largest logit (the first on ties).</summary>
    internal static byte[] ArgMax(ReadOnlySpan<float> logits, int k, int pixels)
    {
        var best = new byte[pixels];
        var bestValue = logits[..pixels].ToArray();
        for (int c = 1; c < k; c++)
        {
            var plane = logits.Slice(c * pixels, pixels);
            for (int p = 0; p < pixels; p++)
                if (plane[p] > bestValue[p]) { bestValue[p] = plane[p]; best[p] = (byte)c; }
        }
        return best;
    }
}
