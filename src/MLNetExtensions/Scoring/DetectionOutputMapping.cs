using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetExtensions.Boxes;
using MLNetExtensions.Data;

namespace MLNetExtensions.Scoring;

/// <summary>Input row of <see cref="DetectionOutputMapping"/>: what a detector's ONNX graph gives for one image.</summary>
public sealed class DetectionOutputInput
{
    [ColumnName(ScoringColumns.OnnxBoxes)] public float[] Boxes = [];
    [ColumnName(ScoringColumns.OnnxScores)] public float[] ClassScores = [];
    [ColumnName(ScoringColumns.OnnxPostProcess)] public float[] PostProcess = [];
    [ColumnName(ScoringColumns.OriginalWidth)] public float Width;
    [ColumnName(ScoringColumns.OriginalHeight)] public float Height;
}

/// <summary>Output row of <see cref="DetectionOutputMapping"/>.</summary>
public sealed class DetectionOutputRow
{
    [ColumnName(DetectionColumns.PredictedBoxes)] public float[] Boxes = [];
    [ColumnName(ScoringColumns.LabelIndices)] public uint[] LabelIndices = [];
    [ColumnName(DetectionColumns.Scores)] public float[] Scores = [];
}

/// <summary>
/// Turns a detector's per-box scores into detections: score threshold, class-aware NMS, the best
/// <c>maxDetections</c>, boxes scaled to the original image. Stateless: the thresholds come from the ONNX graph's
/// <see cref="ScoringColumns.OnnxPostProcess"/> output, so the learned model carries its own settings.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class DetectionOutputMapping : CustomMappingFactory<DetectionOutputInput, DetectionOutputRow>
{
    public const string ContractName = "MLNetExtensions.DetectionOutput.v1";

    public override Action<DetectionOutputInput, DetectionOutputRow> GetMapping() => Map;

    internal static void Map(DetectionOutputInput input, DetectionOutputRow output)
        => Map(input.Boxes, input.ClassScores, input.PostProcess, input.Width, input.Height, output);

    /// <summary>The mapping on spans, so the batched scorer can hand over slices of ONNX Runtime's outputs uncopied.</summary>
    internal static void Map(ReadOnlySpan<float> predictedBoxes, ReadOnlySpan<float> classScores, ReadOnlySpan<float> postProcess,
        float width, float height, DetectionOutputRow output)
    {
        int a = predictedBoxes.Length / 4;
        if (a == 0 || classScores.Length % a != 0 || postProcess.Length < 3)
            throw new InvalidDataException($"The detector produced {predictedBoxes.Length} box values, {classScores.Length} scores and {postProcess.Length} settings; expected A×4, A×C and 3. The model file does not match this library's detector contract.");
        int c = classScores.Length / a;
        float threshold = postProcess[0], iou = postProcess[1];
        int maxDetections = (int)postProcess[2];

        var boxes = new List<float>();
        var scores = new List<float>();
        var classes = new List<int>();
        for (int i = 0; i < a; i++)
            for (int k = 0; k < c; k++)
            {
                float s = classScores[i * c + k];
                if (s < threshold) continue;
                boxes.Add(Math.Clamp(predictedBoxes[4 * i], 0f, 1f) * width);
                boxes.Add(Math.Clamp(predictedBoxes[4 * i + 1], 0f, 1f) * height);
                boxes.Add(Math.Clamp(predictedBoxes[4 * i + 2], 0f, 1f) * width);
                boxes.Add(Math.Clamp(predictedBoxes[4 * i + 3], 0f, 1f) * height);
                scores.Add(s);
                classes.Add(k);
            }
        var keep = NonMaxSuppression.ApplyClassAware(boxes.ToArray(), scores.ToArray(), classes.ToArray(), new NmsOptions(iou, maxTotal: Math.Max(1, maxDetections)));
        output.Boxes = new float[keep.Length * 4];
        output.LabelIndices = new uint[keep.Length];
        output.Scores = new float[keep.Length];
        for (int j = 0; j < keep.Length; j++)
        {
            int i = keep[j];
            for (int q = 0; q < 4; q++) output.Boxes[4 * j + q] = boxes[4 * i + q];
            output.LabelIndices[j] = (uint)(classes[i] + 1);
            output.Scores[j] = scores[i];
        }
    }
}
