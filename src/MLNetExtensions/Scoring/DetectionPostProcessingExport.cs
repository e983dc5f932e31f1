using System.Globalization;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// Appends <see cref="DetectionOutputMapping"/>'s post-processing to a detector's exported graph, so that other
/// runtimes get detections rather than per-box scores: the same steps in ONNX operators, on the same values.
/// <list type="number">
/// <item>Boxes clipped to [0, 1] and multiplied by the image size (original or input), as the mapping does.</item>
/// <item>ONNX <c>NonMaxSuppression</c> per image and class on (N, C, A) scores, with the score threshold one float
/// below the model's (the operator keeps scores strictly above it; the mapping keeps those at or above) and at most K
/// boxes per class (the best K of all classes are among each class's best K).</item>
/// <item>The kept boxes sorted by their place in the mapping's candidate list (box, then class), so that equal scores
/// break the same way: the mapping ranks by score, then candidate index.</item>
/// <item>Per image, the K highest scores of its kept boxes (TopK keeps equal values in index order), padded with K
/// empty rows so that TopK always has K values to choose from.</item>
/// </list>
/// </summary>
internal static class DetectionPostProcessingExport
{
    internal const string LayoutKey = "postprocess.layout";
    internal const string BoxCoordinatesKey = "postprocess.box_coordinates";
    internal const string ScoreThresholdKey = "postprocess.score_threshold";
    internal const string IouThresholdKey = "postprocess.iou_threshold";
    internal const string MaxDetectionsKey = "postprocess.max_detections";

    /// <summary>The post-processing settings a detector's graph hands its mapping (<see cref="ScoringColumns.OnnxPostProcess"/>).</summary>
    internal readonly record struct Settings(float ScoreThreshold, float IouThreshold, int MaxDetections);

    /// <summary>The graph of <paramref name="network"/> with the post-processing appended and its outputs replaced.</summary>
    public static byte[] Build(byte[] network, DetectionOnnxExportOptions options, Settings modelSettings)
    {
        float score = options.ScoreThreshold ?? modelSettings.ScoreThreshold;
        float iou = options.IouThreshold ?? modelSettings.IouThreshold;
        int k = options.MaxDetections ?? Math.Max(1, modelSettings.MaxDetections);
        var g = OnnxGraphBuilder.Load(network, "the detector");
        var metadata = g.Metadata ?? throw new InvalidDataException("The detector's ONNX graph has no metadata.");
        bool perImage = options.Layout == ExportedDetectionLayout.PerImage;
        foreach (var name in new[] { ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess })
            g.RemoveOutput(name);
        if (perImage) g.SetInputDimension(ScoringColumns.OnnxPixels, 0, 1);
        OnnxDimension batch = perImage ? 1 : OnnxGraphBuilder.BatchDimension;
        string? originalSize = options.BoxCoordinates == ExportedBoxCoordinates.OriginalImage
            ? g.AddInput(ScoringColumns.ExportedOriginalSize, batch, 2)
            : null;

        string boxes, labels, scores, count, valid;
        using (g.BeginScope("postprocess"))
            (boxes, labels, scores, count, valid) = Append(g, metadata, originalSize, score, iou, k);

        if (perImage)
        {
            var keep = OnnxOps.Squeeze(g, valid, [0]);                                                       // (K)
            g.AddOutput(OnnxOps.Compress(g, OnnxOps.Squeeze(g, boxes, [0]), keep, 0), ScoringColumns.ExportedBoxes, "detections", 4);
            g.AddOutput(OnnxOps.Compress(g, OnnxOps.Squeeze(g, labels, [0]), keep, 0), ScoringColumns.ExportedLabels, OnnxElementType.Int64, "detections");
            g.AddOutput(OnnxOps.Compress(g, OnnxOps.Squeeze(g, scores, [0]), keep, 0), ScoringColumns.ExportedScores, "detections");
        }
        else
        {
            g.AddOutput(boxes, ScoringColumns.ExportedBoxes, batch, k, 4);
            g.AddOutput(labels, ScoringColumns.ExportedLabels, OnnxElementType.Int64, batch, k);
            g.AddOutput(scores, ScoringColumns.ExportedScores, batch, k);
            g.AddOutput(count, ScoringColumns.ExportedDetectionCount, OnnxElementType.Int64, batch);
        }
        var ic = CultureInfo.InvariantCulture;
        g.SetMetadataProperty(LayoutKey, perImage ? "per_image" : "padded_batch");
        g.SetMetadataProperty(BoxCoordinatesKey, options.BoxCoordinates == ExportedBoxCoordinates.OriginalImage ? "original_image" : "input_pixels");
        g.SetMetadataProperty(ScoreThresholdKey, score.ToString("R", ic));
        g.SetMetadataProperty(IouThresholdKey, iou.ToString("R", ic));
        g.SetMetadataProperty(MaxDetectionsKey, k.ToString(ic));
        g.DocString = $"MLNetExtensions detector with its post-processing: {options.Layout} detections (score >= {score.ToString("R", ic)}, class-aware NMS at IoU {iou.ToString("R", ic)}, at most {k}), boxes in {options.BoxCoordinates} pixels.";
        return g.ToBytes();
    }

    /// <summary>The nodes; returns boxes (N, K, 4), labels (N, K) int64, scores (N, K), counts (N) int64 and the validity mask (N, K).</summary>
    private static (string Boxes, string Labels, string Scores, string Count, string Valid) Append(OnnxGraphBuilder g, OnnxModelMetadata metadata,
        string? originalSize, float scoreThreshold, float iouThreshold, int k)
    {
        string pixels = ScoringColumns.OnnxPixels, relative = ScoringColumns.OnnxBoxes, classScores = ScoringColumns.OnnxScores;

        // 1. Boxes in pixels, as DetectionOutputMapping: clamp to [0, 1], times the size.
        string scale = originalSize != null
            ? OnnxOps.Unsqueeze(g, OnnxOps.Concat(g, [originalSize, originalSize], axis: 1), [1])                // (N, 1, 4) w, h, w, h
            : g.AddInitializer("input_size", [(float)metadata.InputWidth, metadata.InputHeight, metadata.InputWidth, metadata.InputHeight], 1, 1, 4);
        var boxes = OnnxOps.Mul(g, OnnxOps.Clip(g, relative, 0f, 1f), scale);                                   // (N, A, 4)
        var byClass = OnnxOps.Transpose(g, classScores, [0, 2, 1]);                                                // (N, C, A)

        // 2. Class-aware NMS: scores >= threshold are those > the float just below it.
        var selected = OnnxOps.NonMaxSuppression(g, boxes, byClass, k, iouThreshold, MathF.BitDecrement(scoreThreshold)); // (M, 3) image, class, box

        // 3. In candidate order (image, box, class), with K padding rows after them.
        var image = Column(g, selected, 0);
        var cls = Column(g, selected, 1);
        var box = Column(g, selected, 2);
        var anchors = OnnxOps.Shape(g, relative, 1, 2);                                                             // (1) A
        var classes = OnnxOps.Shape(g, classScores, 2, 3);                                                          // (1) C
        var key = OnnxOps.Add(g, OnnxOps.Mul(g, OnnxOps.Add(g, OnnxOps.Mul(g, image, anchors), box), classes), cls); // (M)
        var pads = Enumerable.Repeat(-1L, k).ToArray();
        var keys = OnnxOps.Concat(g, [key, g.AddInitializer("pad_key", Enumerable.Repeat(long.MaxValue / 2, k).ToArray(), k)], 0); // (M + K)
        var (_, order) = OnnxOps.TopK(g, keys, OnnxOps.Shape(g, keys), 0, largest: false);                         // (M + K)
        var pickedScores = OnnxOps.GatherND(g, byClass, selected);                                                  // (M)
        var pickedBoxes = OnnxOps.GatherND(g, boxes, OnnxOps.Slice(g, selected, [0], [3], [1], [2]));              // (M, 4) by (image, box)
        var candidateImage = OnnxOps.Gather(g, OnnxOps.Concat(g, [image, g.AddInitializer("pad_image", pads, k)], 0), order, 0);
        var candidateClass = OnnxOps.Gather(g, OnnxOps.Concat(g, [cls, g.AddInitializer("pad_label", pads, k)], 0), order, 0);
        var candidateScore = OnnxOps.Gather(g, OnnxOps.Concat(g, [pickedScores, g.AddInitializer("pad_score", Enumerable.Repeat(-1f, k).ToArray(), k)], 0), order, 0);
        var candidateBox = OnnxOps.Gather(g, OnnxOps.Concat(g, [pickedBoxes, g.AddInitializer("pad_box", new float[4 * k], k, 4)], 0), order, 0); // (M + K, 4)

        // 4. Per image: its candidates' scores in one row (-1 elsewhere), the K highest.
        var rows = OnnxOps.Unsqueeze(g, OnnxOps.Range(g, OnnxOps.Squeeze(g, OnnxOps.Shape(g, pixels, 0, 1), [0])), [1]); // (N, 1)
        var mine = OnnxOps.Equal(g, OnnxOps.Unsqueeze(g, candidateImage, [0]), rows);                              // (N, M + K)
        var none = g.AddInitializer("none", [-1f]);
        var perImage = OnnxOps.Where(g, mine, OnnxOps.Unsqueeze(g, candidateScore, [0]), none);                    // (N, M + K)
        var (top, index) = OnnxOps.TopK(g, perImage, k, 1);                                                         // (N, K)
        var valid = OnnxOps.Greater(g, top, g.AddInitializer("half_none", [-0.5f]));                              // (N, K)
        var scores = OnnxOps.Where(g, valid, top, g.AddInitializer("zero", [0f]));
        var labels = OnnxOps.Where(g, valid, OnnxOps.Gather(g, candidateClass, index, 0), g.AddInitializer("no_label", [-1L]));
        var boxesOut = OnnxOps.Where(g, OnnxOps.Unsqueeze(g, valid, [2]), OnnxOps.Gather(g, candidateBox, index, 0), g.AddInitializer("no_box", [0f])); // (N, K, 4)
        var count = OnnxOps.ReduceSum(g, OnnxOps.Cast(g, valid, OnnxElementType.Int64), [1], keepDims: false);   // (N)
        return (boxesOut, labels, scores, count, valid);
    }

    /// <summary>Column <paramref name="c"/> of an (M, 3) int64 tensor, as (M).</summary>
    private static string Column(OnnxGraphBuilder g, string x, long c) => OnnxOps.Gather(g, x, g.AddInitializer("column", [c]), 1);
}
