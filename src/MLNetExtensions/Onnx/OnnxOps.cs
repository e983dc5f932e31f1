namespace MLNetExtensions.Onnx;

/// <summary>How <see cref="OnnxOps.Resize"/> and its variants interpolate.</summary>
public enum OnnxResizeMode
{
    /// <summary>
    /// Bilinear with ONNX's <c>half_pixel</c> coordinates: the same as torch's
    /// <c>interpolate(mode: Bilinear, align_corners: false)</c>.
    /// </summary>
    Bilinear,

    /// <summary>
    /// Nearest neighbour with <c>asymmetric</c> coordinates rounded down: the same as torch's
    /// <c>interpolate(mode: Nearest)</c>.
    /// </summary>
    Nearest,
}

/// <summary>How <see cref="OnnxOps.Pad"/> fills the border.</summary>
public enum OnnxPadMode
{
    /// <summary>A constant value (torch's <c>constant</c> / zero padding).</summary>
    Constant,

    /// <summary>Mirrored without repeating the edge (torch's <c>reflect</c>).</summary>
    Reflect,

    /// <summary>The edge value repeated (torch's <c>replicate</c>).</summary>
    Edge,
}

/// <summary>
/// The one place that knows how each ONNX operator is written: attribute names, input order, which inputs are
/// constants, and the settings that make ONNX compute what the matching torch op computes. Every method adds its
/// node(s) to <paramref name="g"/> and returns the output's name; constants become initializers named after the op.
/// Spatial arguments follow ONNX: <c>pads</c> is all begins then all ends (see <see cref="SymmetricPads"/>).
/// </summary>
public static partial class OnnxOps
{
    /// <summary>ONNX pads for a padding applied on both sides of each spatial axis: (p0, p1) → (p0, p1, p0, p1).</summary>
    public static long[] SymmetricPads(IReadOnlyList<long> padding)
    {
        ArgumentNullException.ThrowIfNull(padding);
        return [.. padding, .. padding];
    }

    /// <summary>
    /// 2-D (or N-D) convolution, torch's <c>conv2d</c>: <paramref name="weight"/> is (out, in / group, kH, kW),
    /// <paramref name="bias"/> (out) or null.
    /// </summary>
    public static string Conv(OnnxGraphBuilder g, string x, string weight, string? bias, long[] strides, long[] pads, long[] dilations, long group = 1)
    {
        ArgumentNullException.ThrowIfNull(g);
        int spatial = CheckSpatial(strides, pads, dilations, nameof(Conv));
        ArgumentOutOfRangeException.ThrowIfLessThan(group, 1);
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Ints("strides", strides),
            OnnxAttribute.Ints("pads", pads),
            OnnxAttribute.Ints("dilations", dilations),
            OnnxAttribute.Int("group", group),
        };
        if (g.InitializerShape(weight) is { } w)
        {
            if (w.Count != spatial + 2)
                throw new ArgumentException($"Conv weight '{weight}' has shape ({string.Join(", ", w)}), but {spatial} spatial axes need rank {spatial + 2}.", nameof(weight));
            attributes.Add(OnnxAttribute.Ints("kernel_shape", w.Skip(2).ToArray()));
        }
        var inputs = bias == null ? new[] { x, weight } : [x, weight, bias];
        return Same(g, x, g.AddNode("Conv", inputs, "conv", [.. attributes]));
    }

    /// <summary>Inference-mode batch normalization over axis 1 with the given per-channel tensors.</summary>
    public static string BatchNormalization(OnnxGraphBuilder g, string x, string scale, string bias, string mean, string variance, float epsilon)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be non-negative.");
        return Same(g, x, g.AddNode("BatchNormalization", [x, scale, bias, mean, variance], "batchnorm", OnnxAttribute.Float("epsilon", epsilon)));
    }

    /// <summary>max(x, 0).</summary>
    public static string Relu(OnnxGraphBuilder g, string x) => Unary(g, "Relu", x);

    /// <summary>1 / (1 + e^-x).</summary>
    public static string Sigmoid(OnnxGraphBuilder g, string x) => Unary(g, "Sigmoid", x);

    /// <summary>Hyperbolic tangent.</summary>
    public static string Tanh(OnnxGraphBuilder g, string x) => Unary(g, "Tanh", x);

    /// <summary>Passes <paramref name="x"/> through unchanged (e.g. to give a value a second name).</summary>
    public static string Identity(OnnxGraphBuilder g, string x) => Unary(g, "Identity", x);

    /// <summary>Clamps to [<paramref name="min"/>, <paramref name="max"/>]; ReLU6 is <c>Clip(0, 6)</c>.</summary>
    public static string Clip(OnnxGraphBuilder g, string x, float min, float max)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (!(min <= max)) throw new ArgumentException($"Clip needs min <= max, but got [{min}, {max}].", nameof(min));
        var lo = g.AddInitializer("clip_min", [min]);
        var hi = g.AddInitializer("clip_max", [max]);
        return Same(g, x, g.AddNode("Clip", [x, lo, hi], "clip"));
    }

    /// <summary>torch's <c>relu6</c>.</summary>
    public static string Relu6(OnnxGraphBuilder g, string x) => Clip(g, x, 0f, 6f);

    /// <summary>torch's <c>leaky_relu</c> with slope <paramref name="alpha"/> below zero.</summary>
    public static string LeakyRelu(OnnxGraphBuilder g, string x, float alpha)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode("LeakyRelu", [x], "leakyrelu", OnnxAttribute.Float("alpha", alpha)));
    }

    /// <summary>Softmax along one axis (opset 13+ semantics, like torch's <c>softmax(dim)</c>).</summary>
    public static string Softmax(OnnxGraphBuilder g, string x, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode("Softmax", [x], "softmax", OnnxAttribute.Int("axis", axis)));
    }

    /// <summary>torch's <c>max_pool2d</c>; padded cells never win (they count as minus infinity).</summary>
    public static string MaxPool(OnnxGraphBuilder g, string x, long[] kernel, long[] strides, long[] pads, long[] dilations, bool ceilMode)
    {
        ArgumentNullException.ThrowIfNull(g);
        int spatial = CheckSpatial(strides, pads, dilations, nameof(MaxPool));
        CheckKernel(kernel, spatial, nameof(MaxPool));
        return Same(g, x, g.AddNode("MaxPool", [x], "maxpool",
            OnnxAttribute.Ints("kernel_shape", kernel), OnnxAttribute.Ints("strides", strides), OnnxAttribute.Ints("pads", pads),
            OnnxAttribute.Ints("dilations", dilations), OnnxAttribute.Int("ceil_mode", ceilMode ? 1 : 0)));
    }

    /// <summary>torch's <c>avg_pool2d</c> (without divisor override).</summary>
    public static string AveragePool(OnnxGraphBuilder g, string x, long[] kernel, long[] strides, long[] pads, bool countIncludePad, bool ceilMode)
    {
        ArgumentNullException.ThrowIfNull(g);
        int spatial = CheckSpatial(strides, pads, Enumerable.Repeat(1L, strides?.Length ?? 0).ToArray(), nameof(AveragePool));
        CheckKernel(kernel, spatial, nameof(AveragePool));
        return Same(g, x, g.AddNode("AveragePool", [x], "avgpool",
            OnnxAttribute.Ints("kernel_shape", kernel), OnnxAttribute.Ints("strides", strides!), OnnxAttribute.Ints("pads", pads),
            OnnxAttribute.Int("count_include_pad", countIncludePad ? 1 : 0), OnnxAttribute.Int("ceil_mode", ceilMode ? 1 : 0)));
    }

    /// <summary>Mean over all spatial axes, keeping them as size 1: (N, C, H, W) → (N, C, 1, 1).</summary>
    public static string GlobalAveragePool(OnnxGraphBuilder g, string x) => Unary(g, "GlobalAveragePool", x);

    /// <summary>
    /// alpha · A' · B' + beta · C on 2-D tensors, with A' = Aᵀ when <paramref name="transA"/>; torch's <c>linear</c>
    /// is <c>Gemm(x, weight, bias, transB: true)</c>.
    /// </summary>
    public static string Gemm(OnnxGraphBuilder g, string a, string b, string? c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f)
    {
        ArgumentNullException.ThrowIfNull(g);
        var inputs = c == null ? new[] { a, b } : [a, b, c];
        var y = g.AddNode("Gemm", inputs, "gemm",
            OnnxAttribute.Int("transA", transA ? 1 : 0), OnnxAttribute.Int("transB", transB ? 1 : 0),
            OnnxAttribute.Float("alpha", alpha), OnnxAttribute.Float("beta", beta));
        g.SetRank(y, 2);
        return y;
    }

    /// <summary>Matrix product with numpy broadcasting, torch's <c>matmul</c>.</summary>
    public static string MatMul(OnnxGraphBuilder g, string a, string b) => Binary(g, "MatMul", a, b);

    /// <summary>Elementwise sum with numpy broadcasting.</summary>
    public static string Add(OnnxGraphBuilder g, string a, string b) => Binary(g, "Add", a, b);

    /// <summary>Elementwise product with numpy broadcasting.</summary>
    public static string Mul(OnnxGraphBuilder g, string a, string b) => Binary(g, "Mul", a, b);

    /// <summary>Joins tensors along <paramref name="axis"/>, torch's <c>cat</c>.</summary>
    public static string Concat(OnnxGraphBuilder g, IReadOnlyList<string> inputs, long axis)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) throw new ArgumentException("Concat needs at least one input.", nameof(inputs));
        return Same(g, inputs[0], g.AddNode("Concat", inputs, "concat", OnnxAttribute.Int("axis", axis)));
    }

    /// <summary>
    /// torch's <c>reshape</c>: -1 infers one size and 0 copies the input's size at that axis (so <c>(0, -1, 4)</c>
    /// keeps a dynamic batch).
    /// </summary>
    public static string Reshape(OnnxGraphBuilder g, string x, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count(d => d == -1) > 1 || shape.Any(d => d < -1))
            throw new ArgumentException($"Reshape shape ({string.Join(", ", shape)}) may hold one -1 and no other negative size.", nameof(shape));
        var s = g.AddInitializer("reshape_shape", shape, shape.Length);
        var y = g.AddNode("Reshape", [x, s], "reshape", OnnxAttribute.Int("allowzero", 0));
        g.SetRank(y, shape.Length);
        return y;
    }

    /// <summary>Folds the axes before <paramref name="axis"/> into one and the rest into another: always 2-D.</summary>
    public static string Flatten(OnnxGraphBuilder g, string x, long axis = 1)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("Flatten", [x], "flatten", OnnxAttribute.Int("axis", axis));
        g.SetRank(y, 2);
        return y;
    }

    /// <summary>torch's <c>permute(perm)</c>.</summary>
    public static string Transpose(OnnxGraphBuilder g, string x, long[] perm)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(perm);
        if (!perm.Order().SequenceEqual(Enumerable.Range(0, perm.Length).Select(i => (long)i)))
            throw new ArgumentException($"Transpose perm ({string.Join(", ", perm)}) must be a permutation of 0..{perm.Length - 1}.", nameof(perm));
        var y = g.AddNode("Transpose", [x], "transpose", OnnxAttribute.Ints("perm", perm));
        g.SetRank(y, perm.Length);
        return y;
    }

    /// <summary>
    /// Resizes by one scale per axis (1 for batch and channels): output size is floor(size · scale), like torch's
    /// <c>interpolate(scale_factor)</c> without recomputing the scale.
    /// </summary>
    public static string Resize(OnnxGraphBuilder g, string x, float[] scales, OnnxResizeMode mode)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(scales);
        if (scales.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException($"Resize scales ({string.Join(", ", scales)}) must be finite and positive.", nameof(scales));
        if (g.RankOf(x) is { } rank && rank != scales.Length)
            throw new ArgumentException($"Resize of rank-{rank} '{x}' needs {rank} scales, but got {scales.Length}.", nameof(scales));
        var s = g.AddInitializer("resize_scales", scales, scales.Length);
        return Same(g, x, g.AddNode("Resize", [x, "", s], "resize", ResizeAttributes(mode)));
    }

    /// <summary>Resizes to the full output shape held by the int64 tensor <paramref name="sizes"/> (one size per axis).</summary>
    public static string ResizeToSize(OnnxGraphBuilder g, string x, string sizes, OnnxResizeMode mode)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode("Resize", [x, "", "", sizes], "resize", ResizeAttributes(mode)));
    }

    /// <summary>Resizes (N, C, H, W) to (N, C, <paramref name="height"/>, <paramref name="width"/>), batch kept dynamic.</summary>
    public static string ResizeToSpatialSize(OnnxGraphBuilder g, string x, long height, long width, OnnxResizeMode mode)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var batchAndChannels = Shape(g, x, 0, 2);
        var hw = g.AddInitializer("resize_hw", [height, width], 2);
        var sizes = Concat(g, [batchAndChannels, hw], 0);
        return ResizeToSize(g, x, sizes, mode);
    }

    /// <summary>Resizes (N, C, H, W) to the spatial size of <paramref name="reference"/> (read at run time).</summary>
    public static string ResizeLike(OnnxGraphBuilder g, string x, string reference, OnnxResizeMode mode)
    {
        ArgumentNullException.ThrowIfNull(g);
        var batchAndChannels = Shape(g, x, 0, 2);
        var spatial = Shape(g, reference, 2, null);
        var sizes = Concat(g, [batchAndChannels, spatial], 0);
        return ResizeToSize(g, x, sizes, mode);
    }

    /// <summary>
    /// Pads with <paramref name="pads"/> in ONNX order (all begins, then all ends, one pair per axis including batch
    /// and channels).
    /// </summary>
    public static string Pad(OnnxGraphBuilder g, string x, long[] pads, OnnxPadMode mode = OnnxPadMode.Constant, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(pads);
        if (pads.Length % 2 != 0)
            throw new ArgumentException($"Pad needs a begin and an end per axis, but got {pads.Length} values.", nameof(pads));
        if (g.RankOf(x) is { } rank && rank * 2 != pads.Length)
            throw new ArgumentException($"Pad of rank-{rank} '{x}' needs {rank * 2} pads, but got {pads.Length}.", nameof(pads));
        if (mode != OnnxPadMode.Constant && value != 0f)
            throw new ArgumentException($"A pad value is only used in Constant mode, not {mode}.", nameof(value));
        var p = g.AddInitializer("pads", pads, pads.Length);
        var inputs = new List<string> { x, p };
        if (mode == OnnxPadMode.Constant) inputs.Add(g.AddInitializer("pad_value", [value]));
        return Same(g, x, g.AddNode("Pad", inputs, "pad", OnnxAttribute.String("mode", mode.ToString().ToLowerInvariant())));
    }

    /// <summary>
    /// Takes [start, end) with <paramref name="steps"/> along <paramref name="axes"/>; ends past the size are clamped,
    /// so <c>long.MaxValue</c> means "to the end".
    /// </summary>
    public static string Slice(OnnxGraphBuilder g, string x, long[] starts, long[] ends, long[] axes, long[]? steps = null)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(starts);
        ArgumentNullException.ThrowIfNull(ends);
        ArgumentNullException.ThrowIfNull(axes);
        if (starts.Length != ends.Length || starts.Length != axes.Length || (steps != null && steps.Length != axes.Length))
            throw new ArgumentException("Slice needs one start, end, axis (and step) per sliced axis.", nameof(starts));
        if (steps != null && steps.Any(s => s == 0))
            throw new ArgumentException("Slice steps must not be 0.", nameof(steps));
        var inputs = new List<string>
        {
            x,
            g.AddInitializer("slice_starts", starts, starts.Length),
            g.AddInitializer("slice_ends", ends, ends.Length),
            g.AddInitializer("slice_axes", axes, axes.Length),
        };
        if (steps != null) inputs.Add(g.AddInitializer("slice_steps", steps, steps.Length));
        return Same(g, x, g.AddNode("Slice", inputs, "slice"));
    }

    /// <summary>Elementwise a - b with broadcasting.</summary>
    public static string Sub(OnnxGraphBuilder g, string a, string b) => Binary(g, "Sub", a, b);

    /// <summary>Elementwise a / b with broadcasting.</summary>
    public static string Div(OnnxGraphBuilder g, string a, string b) => Binary(g, "Div", a, b);

    /// <summary>Elementwise minimum of two tensors with broadcasting (torch's <c>clamp_max</c> with a tensor bound).</summary>
    public static string Min(OnnxGraphBuilder g, string a, string b) => Binary(g, "Min", a, b);

    /// <summary>Elementwise maximum of two tensors with broadcasting (torch's <c>clamp_min</c> with a tensor bound).</summary>
    public static string Max(OnnxGraphBuilder g, string a, string b) => Binary(g, "Max", a, b);

    /// <summary>Elementwise e^x.</summary>
    public static string Exp(OnnxGraphBuilder g, string x) => Unary(g, "Exp", x);

    /// <summary>Elementwise square root.</summary>
    public static string Sqrt(OnnxGraphBuilder g, string x) => Unary(g, "Sqrt", x);

    /// <summary>Elementwise natural logarithm.</summary>
    public static string Log(OnnxGraphBuilder g, string x) => Unary(g, "Log", x);

    /// <summary>Elementwise floor.</summary>
    public static string Floor(OnnxGraphBuilder g, string x) => Unary(g, "Floor", x);

    /// <summary>Mean over <paramref name="axes"/> (opset 17: axes is an attribute), like torch's <c>mean(dims, keepdim)</c>.</summary>
    public static string ReduceMean(OnnxGraphBuilder g, string x, long[] axes, bool keepDims = true)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(axes);
        var y = g.AddNode("ReduceMean", [x], "reducemean", OnnxAttribute.Ints("axes", axes), OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));
        if (g.RankOf(x) is { } rank) g.SetRank(y, keepDims ? rank : rank - axes.Length);
        return y;
    }

    /// <summary>Product of all elements (no axes: every axis is reduced).</summary>
    public static string ReduceProd(OnnxGraphBuilder g, string x, bool keepDims = false)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode("ReduceProd", [x], "reduceprod", OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));
        if (!keepDims) g.SetRank(y, 0);
        else if (g.RankOf(x) is { } rank) g.SetRank(y, rank);
        return y;
    }

    /// <summary>Converts <paramref name="x"/> to another element type.</summary>
    public static string Cast(OnnxGraphBuilder g, string x, OnnxElementType to)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode("Cast", [x], "cast", OnnxAttribute.Int("to", (long)to)));
    }

    /// <summary>The shape of <paramref name="x"/> as an int64 vector, optionally only axes [start, end) (opset 15+).</summary>
    public static string Shape(OnnxGraphBuilder g, string x, long? start = null, long? end = null)
    {
        ArgumentNullException.ThrowIfNull(g);
        var attributes = new List<OnnxAttribute>();
        if (start is { } s) attributes.Add(OnnxAttribute.Int("start", s));
        if (end is { } e) attributes.Add(OnnxAttribute.Int("end", e));
        var y = g.AddNode("Shape", [x], "shape", [.. attributes]);
        g.SetRank(y, 1);
        return y;
    }

    /// <summary>
    /// ONNX RoiAlign (opset 16) in average mode, torchvision's <c>roi_align</c>: <paramref name="x"/> (N, C, H, W),
    /// <paramref name="rois"/> (K, 4) x1, y1, x2, y2 in input pixels, <paramref name="batchIndices"/> (K) int64;
    /// returns (K, C, <paramref name="outputHeight"/>, <paramref name="outputWidth"/>). <paramref name="aligned"/>
    /// writes <c>half_pixel</c> (boxes shifted by -0.5 pixel, torchvision's <c>aligned=True</c>), otherwise
    /// <c>output_half_pixel</c> (no shift, boxes at least 1×1); a <paramref name="samplingRatio"/> of 0 samples
    /// ceil(bin size) points per bin and axis.
    /// </summary>
    public static string RoiAlign(OnnxGraphBuilder g, string x, string rois, string batchIndices, long outputHeight, long outputWidth, float spatialScale, long samplingRatio, bool aligned)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputWidth, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(samplingRatio);
        if (!(spatialScale > 0) || !float.IsFinite(spatialScale))
            throw new ArgumentOutOfRangeException(nameof(spatialScale), spatialScale, "spatialScale must be positive and finite.");
        if (g.RankOf(rois) is { } roisRank && roisRank != 2)
            throw new ArgumentException($"RoiAlign rois '{rois}' must be (K, 4), but has rank {roisRank}.", nameof(rois));
        if (g.RankOf(batchIndices) is { } indexRank && indexRank != 1)
            throw new ArgumentException($"RoiAlign batch indices '{batchIndices}' must be (K), but have rank {indexRank}.", nameof(batchIndices));
        var y = g.AddNode("RoiAlign", [x, rois, batchIndices], "roialign",
            OnnxAttribute.String("mode", "avg"),
            OnnxAttribute.Int("output_height", outputHeight),
            OnnxAttribute.Int("output_width", outputWidth),
            OnnxAttribute.Int("sampling_ratio", samplingRatio),
            OnnxAttribute.Float("spatial_scale", spatialScale),
            OnnxAttribute.String("coordinate_transformation_mode", aligned ? "half_pixel" : "output_half_pixel"));
        g.SetRank(y, 4);
        return y;
    }

    private static OnnxAttribute[] ResizeAttributes(OnnxResizeMode mode) => mode switch
    {
        // torch bilinear, align_corners=false: src = (dst + 0.5) / scale - 0.5, clamped at the edges.
        OnnxResizeMode.Bilinear => [OnnxAttribute.String("mode", "linear"), OnnxAttribute.String("coordinate_transformation_mode", "half_pixel")],
        // torch nearest: src = floor(dst / scale).
        OnnxResizeMode.Nearest => [OnnxAttribute.String("mode", "nearest"), OnnxAttribute.String("coordinate_transformation_mode", "asymmetric"), OnnxAttribute.String("nearest_mode", "floor")],
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown resize mode."),
    };

    private static string Unary(OnnxGraphBuilder g, string op, string x)
    {
        ArgumentNullException.ThrowIfNull(g);
        return Same(g, x, g.AddNode(op, [x], op.ToLowerInvariant()));
    }

    private static string Binary(OnnxGraphBuilder g, string op, string a, string b)
    {
        ArgumentNullException.ThrowIfNull(g);
        var y = g.AddNode(op, [a, b], op.ToLowerInvariant());
        if (g.RankOf(a) is { } ra && g.RankOf(b) is { } rb) g.SetRank(y, Math.Max(ra, rb));
        return y;
    }

    // Elementwise ops and pools keep their input's rank.
    private static string Same(OnnxGraphBuilder g, string x, string y)
    {
        if (g.RankOf(x) is { } rank) g.SetRank(y, rank);
        return y;
    }

    private static int CheckSpatial(long[] strides, long[] pads, long[] dilations, string op)
    {
        ArgumentNullException.ThrowIfNull(strides);
        ArgumentNullException.ThrowIfNull(pads);
        ArgumentNullException.ThrowIfNull(dilations);
        int n = strides.Length;
        if (n == 0 || dilations.Length != n || pads.Length != 2 * n)
            throw new ArgumentException($"{op} needs one stride and dilation per spatial axis and two pads (begin, end) per axis, but got {strides.Length} strides, {dilations.Length} dilations and {pads.Length} pads.");
        if (strides.Any(s => s < 1) || dilations.Any(d => d < 1) || pads.Any(p => p < 0))
            throw new ArgumentException($"{op} strides and dilations must be positive and pads non-negative, but got strides ({string.Join(", ", strides)}), dilations ({string.Join(", ", dilations)}), pads ({string.Join(", ", pads)}).");
        return n;
    }

    private static void CheckKernel(long[] kernel, int spatial, string op)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.Length != spatial || kernel.Any(k => k < 1))
            throw new ArgumentException($"{op} needs {spatial} positive kernel sizes, but got ({string.Join(", ", kernel)}).", nameof(kernel));
    }
}
