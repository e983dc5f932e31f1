namespace MLNetExtensions.Onnx;

/// <summary>The ops that select and gather (TopK, NonMaxSuppression, Gather, ...), which a two-stage detector's graph needs.</summary>
public static partial class OnnxOps
{
    /// <summary>The <paramref name="k"/> largest values along <paramref name="axis"/>, sorted, and their int64 indices.</summary>
    public static (string Values, string Indices) TopK(OnnxGraphBuilder g, string x, long k, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var kName = g.AddInitializer("k", [k], 1);
        var outputs = g.AddNode("TopK", [x, kName], 2, "topk", OnnxAttribute.Int("axis", axis), OnnxAttribute.Int("largest", 1), OnnxAttribute.Int("sorted", 1));
        if (g.RankOf(x) is { } rank) { g.SetRank(outputs[0], rank); g.SetRank(outputs[1], rank); }
        return (outputs[0], outputs[1]);
    }

    /// <summary>
    /// The <paramref name="k"/> largest (or smallest) values along <paramref name="axis"/>, sorted, and their int64
    /// indices, with <paramref name="k"/> a value of the graph (a 1-D int64 tensor of one element). Equal values keep
    /// their order (the lower index first), as the operator specifies.
    /// </summary>
    public static (string Values, string Indices) TopK(OnnxGraphBuilder g, string x, string k, long axis, bool largest = true)
    {
        ArgumentNullException.ThrowIfNull(g);
        var outputs = g.AddNode("TopK", [x, k], 2, "topk", OnnxAttribute.Int("axis", axis), OnnxAttribute.Int("largest", largest ? 1 : 0), OnnxAttribute.Int("sorted", 1));
        if (g.RankOf(x) is { } rank) { g.SetRank(outputs[0], rank); g.SetRank(outputs[1], rank); }
        return (outputs[0], outputs[1]);
    }

    /// <summary>
    /// GatherND (batch_dims 0): <paramref name="indices"/> (..., r) int64 picks elements (r = rank of <paramref name="x"/>)
    /// or slices (r smaller) of <paramref name="x"/>.
    /// </summary>
    public static string GatherND(OnnxGraphBuilder g, string x, string indices)
    {
        ArgumentNullException.ThrowIfNull(g);
        return g.AddNode("GatherND", [x, indices], "gathernd");
    }

    /// <summary>The slices of <paramref name="x"/> along <paramref name="axis"/> where the 1-D bool <paramref name="condition"/> is true.</summary>
    public static string Compress(OnnxGraphBuilder g, string x, string condition, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode("Compress", [x, condition], "compress", OnnxAttribute.Int("axis", axis)));
    }

    /// <summary>Sum over <paramref name="axes"/> (opset 13+: axes as an input).</summary>
    public static string ReduceSum(OnnxGraphBuilder g, string x, long[] axes, bool keepDims = true)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(axes);
        var y = g.AddNode("ReduceSum", [x, g.AddInitializer("axes", axes, axes.Length)], "reducesum", OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));
        if (g.RankOf(x) is { } rank) g.SetRank(y, keepDims ? rank : rank - axes.Length);
        return y;
    }

    /// <summary>Elementwise -x.</summary>
    public static string Neg(OnnxGraphBuilder g, string x) => Unary(g, "Neg", x);

    /// <summary>
    /// ONNX NonMaxSuppression: <paramref name="boxes"/> (B, N, 4) corners, <paramref name="scores"/> (B, classes, N);
    /// returns (M, 3) int64 rows of batch, class, box index, per batch and class in falling score order. Boxes with a
    /// score not above <paramref name="scoreThreshold"/> are dropped.
    /// </summary>
    public static string NonMaxSuppression(OnnxGraphBuilder g, string boxes, string scores, long maxOutputBoxesPerClass, float iouThreshold, float scoreThreshold)
    {
        ArgumentNullException.ThrowIfNull(g);
        var max = g.AddInitializer("max_output_boxes_per_class", [maxOutputBoxesPerClass], 1);
        var iou = g.AddInitializer("iou_threshold", [iouThreshold], 1);
        var score = g.AddInitializer("score_threshold", [scoreThreshold], 1);
        var y = g.AddNode("NonMaxSuppression", [boxes, scores, max, iou, score], "nms", OnnxAttribute.Int("center_point_box", 0));
        g.SetRank(y, 2);
        return y;
    }

    /// <summary>Gather along <paramref name="axis"/> with <paramref name="indices"/> (result rank: rank(x) - 1 + rank(indices)).</summary>
    public static string Gather(OnnxGraphBuilder g, string x, string indices, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Gather", [x, indices], "gather", OnnxAttribute.Int("axis", axis));
        if (g.RankOf(x) is { } rx && g.RankOf(indices) is { } ri) g.SetRank(y, rx - 1 + ri);
        return y;
    }

    /// <summary>GatherElements along <paramref name="axis"/>: the result has the shape of <paramref name="indices"/>.</summary>
    public static string GatherElements(OnnxGraphBuilder g, string x, string indices, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("GatherElements", [x, indices], "gatherelements", OnnxAttribute.Int("axis", axis));
        if (g.RankOf(indices) is { } rank) g.SetRank(y, rank);
        return y;
    }

    /// <summary>ScatterND: <paramref name="data"/> with <paramref name="updates"/> written at <paramref name="indices"/>.</summary>
    public static string ScatterND(OnnxGraphBuilder g, string data, string indices, string updates)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("ScatterND", [data, indices, updates], "scatternd");
        if (g.RankOf(data) is { } rank) g.SetRank(y, rank);
        return y;
    }

    /// <summary>Elementwise <paramref name="condition"/> ? <paramref name="a"/> : <paramref name="b"/>.</summary>
    public static string Where(OnnxGraphBuilder g, string condition, string a, string b)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Where", [condition, a, b], "where");
        var ranks = new[] { g.RankOf(condition), g.RankOf(a), g.RankOf(b) };
        if (ranks.All(r => r != null)) g.SetRank(y, ranks.Max()!.Value);
        return y;
    }

    /// <summary>Elementwise a &gt; b (bool).</summary>
    public static string Greater(OnnxGraphBuilder g, string a, string b) => Binary(g, "Greater", a, b);

    /// <summary>Elementwise a &gt;= b (bool).</summary>
    public static string GreaterOrEqual(OnnxGraphBuilder g, string a, string b) => Binary(g, "GreaterOrEqual", a, b);

    /// <summary>Elementwise a == b (bool).</summary>
    public static string Equal(OnnxGraphBuilder g, string a, string b) => Binary(g, "Equal", a, b);

    /// <summary>Elementwise logical and.</summary>
    public static string And(OnnxGraphBuilder g, string a, string b) => Binary(g, "And", a, b);

    /// <summary>Inserts size-1 axes at <paramref name="axes"/> (opset 13+: axes as an input).</summary>
    public static string Unsqueeze(OnnxGraphBuilder g, string x, long[] axes)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Unsqueeze", [x, g.AddInitializer("axes", axes, axes.Length)], "unsqueeze");
        if (g.RankOf(x) is { } rank) g.SetRank(y, rank + axes.Length);
        return y;
    }

    /// <summary>Removes the size-1 axes <paramref name="axes"/>.</summary>
    public static string Squeeze(OnnxGraphBuilder g, string x, long[] axes)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Squeeze", [x, g.AddInitializer("axes", axes, axes.Length)], "squeeze");
        if (g.RankOf(x) is { } rank) g.SetRank(y, rank - axes.Length);
        return y;
    }

    /// <summary>Broadcasts <paramref name="x"/> to <paramref name="shape"/> (numpy rules; 1 keeps the axis).</summary>
    public static string Expand(OnnxGraphBuilder g, string x, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Expand", [x, g.AddInitializer("shape", shape, shape.Length)], "expand");
        g.SetRank(y, Math.Max(shape.Length, g.RankOf(x) ?? 0));
        return y;
    }

    /// <summary>int64 0, 1, ..., n - 1 for a scalar int64 <paramref name="count"/>.</summary>
    public static string Range(OnnxGraphBuilder g, string count)
    {
        ArgumentNullException.ThrowIfNull(g);
        var zero = g.AddInitializer("range_start", [0L]);
        var one = g.AddInitializer("range_delta", [1L]);
        var y = g.AddNode("Range", [zero, count, one], "range");
        g.SetRank(y, 1);
        return y;
    }
}
