namespace MLNetExtensions.Boxes;

public static partial class NonMaxSuppression
{
    /// <summary>
    /// NMS with the semantics of the ONNX <c>NonMaxSuppression</c> operator (opset 10/11), for checking against
    /// ONNX models and the ONNX node tests, and for post-processing models exported without it.
    /// </summary>
    /// <param name="boxes"><c>(numBatches, numBoxes, 4)</c>. With <paramref name="centerPointBox"/> 0 each box is
    /// <c>[y1, x1, y2, x2]</c>, any two diagonal corners (flipped corners are allowed); with 1 it is
    /// <c>[x_center, y_center, width, height]</c>.</param>
    /// <param name="scores"><c>(numBatches, numClasses, numBoxes)</c>.</param>
    /// <param name="numBatches">Batch size.</param>
    /// <param name="numClasses">Number of classes.</param>
    /// <param name="maxOutputBoxesPerClass">Most boxes kept per batch and class; 0 (the operator's default) keeps none.</param>
    /// <param name="iouThreshold">IoU strictly above which a box is suppressed, in [0, 1]; the operator's default is 0.</param>
    /// <param name="scoreThreshold">When given, boxes whose score is not strictly greater are dropped; when null, none are (but NaN scores always are).</param>
    /// <param name="centerPointBox">The box layout, 0 or 1.</param>
    /// <returns>The operator's <c>selected_indices</c>, <c>(K, 3)</c> row-major: <c>[batch, class, box]</c> per
    /// kept box, batch by batch, class by class, highest score first within a class.</returns>
    public static long[] ApplyOnnx(ReadOnlySpan<float> boxes, ReadOnlySpan<float> scores, int numBatches, int numClasses,
        long maxOutputBoxesPerClass = 0, float iouThreshold = 0f, float? scoreThreshold = null, int centerPointBox = 0)
    {
        if (numBatches < 0) throw new ArgumentOutOfRangeException(nameof(numBatches), numBatches, "The batch size must be >= 0.");
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "The number of classes must be >= 0.");
        if (centerPointBox is not (0 or 1))
            throw new ArgumentOutOfRangeException(nameof(centerPointBox), centerPointBox, "center_point_box must be 0 ([y1, x1, y2, x2]) or 1 ([x_center, y_center, width, height]).");
        if (maxOutputBoxesPerClass < 0)
            throw new ArgumentOutOfRangeException(nameof(maxOutputBoxesPerClass), maxOutputBoxesPerClass, "max_output_boxes_per_class must be >= 0.");
        if (!(iouThreshold >= 0f && iouThreshold <= 1f))
            throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "iou_threshold must be in [0, 1].");
        if (scoreThreshold is float t && float.IsNaN(t))
            throw new ArgumentOutOfRangeException(nameof(scoreThreshold), t, "score_threshold must be a number.");
        if (numBatches == 0)
        {
            if (boxes.Length != 0 || scores.Length != 0)
                throw new ArgumentException($"With 0 batches 'boxes' and 'scores' must be empty; they have {boxes.Length} and {scores.Length} values.");
            return [];
        }
        if (boxes.Length % (4 * numBatches) != 0)
            throw new ArgumentException($"'boxes' has {boxes.Length} values; expected (num_batches={numBatches}, num_boxes, 4).", nameof(boxes));
        int numBoxes = boxes.Length / (4 * numBatches);
        BoxSpan.RequireLength(scores.Length, numBatches * numClasses * numBoxes, nameof(scores),
            $"(num_batches={numBatches}, num_classes={numClasses}, num_boxes={numBoxes})");

        int max = (int)Math.Min(maxOutputBoxesPerClass, numBoxes);
        float threshold = scoreThreshold ?? float.NegativeInfinity;
        var corners = new float[numBoxes * 4];
        var selected = new List<long>();
        var keep = new int[max];
        var scratch = new KeptBoxes(max);
        var order = new int[numBoxes];
        for (int b = 0; b < numBatches; b++)
        {
            ToCorners(boxes.Slice(b * numBoxes * 4, numBoxes * 4), centerPointBox, corners);
            for (int c = 0; c < numClasses; c++)
            {
                if (max == 0) continue;
                var ranked = Rank(scores.Slice((b * numClasses + c) * numBoxes, numBoxes), threshold, out int count);
                for (int r = 0; r < count; r++) order[r] = (int)ranked[r];
                int kept = scratch.Greedy(corners, order.AsSpan(0, count), iouThreshold, max, keep);
                for (int k = 0; k < kept; k++)
                {
                    selected.Add(b);
                    selected.Add(c);
                    selected.Add(keep[k]);
                }
            }
        }
        return selected.ToArray();
    }

    /// <summary>ONNX boxes of one batch to <c>[xmin, ymin, xmax, ymax]</c>, ordering flipped corners.</summary>
    private static void ToCorners(ReadOnlySpan<float> onnx, int centerPointBox, Span<float> corners)
    {
        for (int o = 0; o < onnx.Length; o += 4)
        {
            if (centerPointBox == 0)
            {
                float y1 = onnx[o], x1 = onnx[o + 1], y2 = onnx[o + 2], x2 = onnx[o + 3];
                corners[o] = MathF.Min(x1, x2); corners[o + 1] = MathF.Min(y1, y2);
                corners[o + 2] = MathF.Max(x1, x2); corners[o + 3] = MathF.Max(y1, y2);
            }
            else
            {
                float cx = onnx[o], cy = onnx[o + 1], halfW = onnx[o + 2] / 2f, halfH = onnx[o + 3] / 2f;
                corners[o] = cx - halfW; corners[o + 1] = cy - halfH;
                corners[o + 2] = cx + halfW; corners[o + 3] = cy + halfH;
            }
        }
    }
}
