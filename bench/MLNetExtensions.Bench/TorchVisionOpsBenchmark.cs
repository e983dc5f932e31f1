using System.Diagnostics;
using System.Reflection;
using MLNetExtensions.Boxes;
using MLNetExtensions.Onnx;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Backbones;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Bench;

/// <summary>
/// Our training-side box ops and backbones against the TorchVision 0.107 package (TorchSharp's bindings) on the same
/// inputs: pairwise IoU, xyxy↔cxcywh conversion, NMS (our host C# <see cref="NonMaxSuppression"/>, alone and as
/// <see cref="Torch.Detection.FasterRcnn.RegionProposalNetwork.FilterProposals"/> calls it, against
/// <c>torchvision.ops.nms</c>), and ResNet-18 / MobileNetV2 forward and forward + backward with the same weights.
/// Each pair is checked to give the same numbers before it is timed; timings alternate, one warm-up round then
/// 5 to 15 rounds, medians. docs/torchvision.md holds the figures and what stays ours.
/// </summary>
public sealed class TorchVisionOpsBenchmark : IBenchmark
{
    private const int Rounds = 7;      // backbones
    private const int FastRounds = 15; // IoU and box convert (ms and less, noisier)
    private const int NmsRounds = 5;   // TorchVision's nms takes seconds at 10,000 boxes
    private const float NmsThreshold = 0.7f; // the RPN's, the NMS that runs in training

    public string Name => "torchvision-ops";
    public string Description => "box IoU, box convert, NMS and ResNet-18 / MobileNetV2 backbones: ours vs the TorchVision 0.107 package";

    public void Run(TextWriter output)
    {
        TorchRuntime.EnsureLoaded();
        manual_seed(0);
        output.WriteLine($"libtorch threads: {get_num_threads()}; alternating rounds after a warm-up ({FastRounds} for IoU and convert, {NmsRounds} for NMS, {Rounds} for backbones), medians; ratio = TorchVision time / ours (> 1: ours faster)");
        ReportOps(output);
        Iou(output);
        Convert(output);
        double headline = Nms(output);
        Backbones(output);
        output.WriteLine($"headline: NMS speed, ours (host C#, as FilterProposals runs it) ÷ torchvision.ops.nms, 2000 clustered boxes at IoU {NmsThreshold} (the RPN's pre-NMS count): {headline:F0}x");
    }

    /// <summary>Which detection ops the package has, by reflection on <c>torchvision.ops</c>.</summary>
    private static void ReportOps(TextWriter output)
    {
        var methods = typeof(torchvision.ops).GetMethods(BindingFlags.Public | BindingFlags.Static).Select(m => m.Name).ToHashSet();
        string[] wanted = ["roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool", "batched_nms", "nms", "box_iou", "box_convert", "box_area", "generalized_box_iou", "deform_conv2d"];
        var roiTypes = typeof(torchvision).Assembly.GetTypes().Where(t => t.Name.Contains("roi", StringComparison.OrdinalIgnoreCase)).Select(t => t.FullName).ToArray();
        output.WriteLine($"torchvision.ops in {typeof(torchvision).Assembly.GetName().Name} {typeof(torchvision).Assembly.GetName().Version}: "
            + string.Join(", ", wanted.Select(n => $"{n} {(methods.Contains(n) ? "yes" : "NO")}"))
            + $"; types named *roi*: {(roiTypes.Length == 0 ? "none" : string.Join(", ", roiTypes))}");
    }

    private static void Iou(TextWriter output)
    {
        var random = new Random(7);
        output.WriteLine("Pairwise IoU (forward, no grad):");
        foreach (var (label, n, m) in new[] { ("20 x 8732 (SSD: gt x priors)", 20, 8732), ("8732 x 20", 8732, 20), ("2000 x 2000 (RoI heads)", 2000, 2000) })
        {
            using var scope = NewDisposeScope();
            var a = tensor(BoxOpsBenchmark.Uniform(random, n)).view(-1, 4);
            var b = tensor(BoxOpsBenchmark.Uniform(random, m)).view(-1, 4);
            double diff = MaxAbsDiff(BoxIou.Pairwise(a, b), torchvision.ops.box_iou(a, b));
            if (!(diff <= 1e-6)) throw new InvalidOperationException($"BoxIou and torchvision box_iou differ by {diff:G3} on {label}.");
            var t = Alternating(FastRounds, () => BoxIou.Pairwise(a, b), () => torchvision.ops.box_iou(a, b));
            output.WriteLine($"  {label,-30} ours {t[0] * 1e3,8:F3} ms   TorchVision {t[1] * 1e3,8:F3} ms   ratio {t[1] / t[0],5:F2}x   max |diff| {diff:G3}");
        }
        using (NewDisposeScope())
        {
            var empty = tensor(new float[] { 5, 5, 5, 5 }).view(1, 4);     // zero area
            var inverted = tensor(new float[] { 10, 0, 0, 10 }).view(1, 4); // x inverted: torchvision's area is -100
            var square = tensor(new float[] { 0, 0, 10, 10 }).view(1, 4);
            output.WriteLine($"  degenerate boxes: IoU(empty, empty) ours {BoxIou.Pairwise(empty, empty).item<float>()}, TorchVision {torchvision.ops.box_iou(empty, empty).item<float>()}; "
                + $"IoU([10,0,0,10], [0,0,10,10]) ours {BoxIou.Pairwise(inverted, square).item<float>()}, TorchVision {torchvision.ops.box_iou(inverted, square).item<float>()}");
        }
    }

    private static void Convert(TextWriter output)
    {
        output.WriteLine("Box convert (forward):");
        foreach (var (label, shape) in new[] { ("8732 boxes", new long[] { 8732, 4 }), ("16 x 8732 boxes", new long[] { 16, 8732, 4 }) })
        {
            using var scope = NewDisposeScope();
            var centre = rand(shape) * tensor(new float[] { 1000, 1000, 200, 200 }) + tensor(new float[] { 0, 0, 10, 10 });   // cx, cy, w, h
            var corners = BoxConvert.CenterSizeToCorners(centre);
            double toCorners = MaxAbsDiff(corners, torchvision.ops.box_convert(centre, torchvision.ops.BoxFormats.cxcywh, torchvision.ops.BoxFormats.xyxy));
            double toCentre = MaxAbsDiff(BoxConvert.CornersToCenterSize(corners), torchvision.ops.box_convert(corners, torchvision.ops.BoxFormats.xyxy, torchvision.ops.BoxFormats.cxcywh));
            // Coordinates up to ~1100: one float ulp is 1.2e-4 there; the two compute the centre as x1 + w/2 and (x1 + x2)/2.
            if (!(toCorners <= 2.5e-4 && toCentre <= 2.5e-4)) throw new InvalidOperationException($"BoxConvert and torchvision box_convert differ by {Math.Max(toCorners, toCentre):G3} on {label}.");
            var t = Alternating(FastRounds,
                () => BoxConvert.CenterSizeToCorners(centre), () => torchvision.ops.box_convert(centre, torchvision.ops.BoxFormats.cxcywh, torchvision.ops.BoxFormats.xyxy),
                () => BoxConvert.CornersToCenterSize(corners), () => torchvision.ops.box_convert(corners, torchvision.ops.BoxFormats.xyxy, torchvision.ops.BoxFormats.cxcywh));
            output.WriteLine($"  {label,-16} cxcywh→xyxy ours {t[0] * 1e3,7:F3} ms   TorchVision {t[1] * 1e3,7:F3} ms   ratio {t[1] / t[0],5:F2}x   max |diff| {toCorners:G3}");
            output.WriteLine($"  {label,-16} xyxy→cxcywh ours {t[2] * 1e3,7:F3} ms   TorchVision {t[3] * 1e3,7:F3} ms   ratio {t[3] / t[2],5:F2}x   max |diff| {toCentre:G3}");
        }
    }

    /// <returns>TorchVision's nms time over our training path's on 2000 clustered boxes.</returns>
    private static double Nms(TextWriter output)
    {
        var random = new Random(11);
        double headline = double.NaN;
        output.WriteLine($"NMS at IoU {NmsThreshold} (distinct scores; kept indices compared in order):");
        foreach (int count in new[] { 2000, 10_000 })
        {
            foreach (bool clustered in new[] { true, false })
            {
                using var scope = NewDisposeScope();
                var boxes = clustered ? BoxOpsBenchmark.Clustered(random, count, count / 50) : BoxOpsBenchmark.Uniform(random, count);
                var scores = Enumerable.Range(0, count).Select(i => (i + 0.5f) / count).OrderBy(_ => random.Next()).ToArray();
                var tb = tensor(boxes).view(-1, 4);
                var ts = tensor(scores);
                int[] host = NonMaxSuppression.Apply(boxes, scores, NmsThreshold);
                long[] path = TrainingNms(tb, ts).data<long>().ToArray();
                long[] theirs = torchvision.ops.nms(tb, ts, NmsThreshold).data<long>().ToArray();
                if (!host.Select(i => (long)i).SequenceEqual(path) || !path.SequenceEqual(theirs))
                    throw new InvalidOperationException($"NMS results differ on {count} boxes: ours kept {path.Length}, TorchVision {theirs.Length}, first difference at {FirstDifference(path, theirs)}.");
                var t = Alternating(NmsRounds, () => NonMaxSuppression.Apply(boxes, scores, NmsThreshold), () => TrainingNms(tb, ts), () => torchvision.ops.nms(tb, ts, NmsThreshold));
                string label = $"{count} {(clustered ? $"clustered ({count / 50} objects)" : "uniform")}, {host.Length} kept";
                output.WriteLine($"  {label,-40} ours host {t[0] * 1e3,8:F3} ms   ours as in training {t[1] * 1e3,8:F3} ms   TorchVision {t[2] * 1e3,10:F1} ms   ratio {t[2] / t[1],6:F0}x   same indices");
                if (count == 2000 && clustered) headline = t[2] / t[1];
            }
        }
        return headline;
    }

    /// <summary>FilterProposals' NMS step: boxes and scores to the host, <see cref="NonMaxSuppression.Apply(ReadOnlySpan{float}, ReadOnlySpan{float}, NmsOptions)"/>, the kept indices back as a tensor.</summary>
    private static Tensor TrainingNms(Tensor boxes, Tensor scores)
    {
        var kept = NonMaxSuppression.Apply(boxes.cpu().data<float>().ToArray(), scores.cpu().data<float>().ToArray(), new NmsOptions(NmsThreshold));
        return tensor(kept.Select(x => (long)x).ToArray(), ScalarType.Int64).to(boxes.device);
    }

    private static void Backbones(TextWriter output)
    {
        var resnet = new ResNetBackbone(ResNetBackboneOptions.ResNet18);
        var tvResnet = torchvision.models.resnet18();
        var resnetChildren = tvResnet.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        Tensor[] TvResnetMaps(Tensor x)
        {
            x = resnetChildren["maxpool"].call(resnetChildren["relu"].call(resnetChildren["bn1"].call(resnetChildren["conv1"].call(x))));
            var maps = new Tensor[4];
            for (int k = 0; k < 4; k++) maps[k] = x = resnetChildren[$"layer{k + 1}"].call(x);
            return maps;
        }
        CompareBackbone(output, "ResNet-18", resnet, tvResnet, "fc.", x => resnet.call(x), TvResnetMaps, ["layer3", "layer4"]);

        var mobilenet = new MobileNetV2Backbone(new MobileNetV2BackboneOptions());
        var tvMobilenet = torchvision.models.mobilenet_v2();
        var features = tvMobilenet.named_children().Single(c => c.name == "features").module.named_children().Select(c => (nn.Module<Tensor, Tensor>)c.module).ToArray();
        Tensor[] TvMobilenetMaps(Tensor x)
        {
            var maps = new List<Tensor>(4);
            for (int i = 0; i < features.Length; i++)
            {
                x = features[i].call(x);
                if (i is 3 or 6 or 13 or 18) maps.Add(x);
            }
            return [.. maps];
        }
        CompareBackbone(output, "MobileNetV2", mobilenet, tvMobilenet, "classifier.", x => mobilenet.call(x), TvMobilenetMaps, ["features.13", "features.18"]);

        output.WriteLine("ONNX export through our writer (OnnxModuleExport, eval mode, 1×3×224×224):");
        resnet.eval(); tvResnet.eval(); mobilenet.eval(); tvMobilenet.eval();
        output.WriteLine($"  ours ResNetBackbone            {TryExport((g, x) => resnet.Export(g, x))}");
        output.WriteLine($"  ours MobileNetV2Backbone       {TryExport((g, x) => mobilenet.Export(g, x))}");
        output.WriteLine($"  TorchVision resnet18 (root)    {TryExport((g, x) => OnnxModuleExport.Export(g, tvResnet, x))}");
        output.WriteLine($"  TorchVision resnet18 children  {TryExport((g, x) => tvResnet.named_children().Where(c => c.name is not ("avgpool" or "flatten" or "fc")).Aggregate(x, (y, c) => OnnxModuleExport.ExportChild(g, c.name, c.module, y)))}");
        output.WriteLine($"  TorchVision mobilenet_v2 features {TryExport((g, x) => OnnxModuleExport.ExportChild(g, "features", tvMobilenet.named_children().Single(c => c.name == "features").module, x))}");
        string dilated;
        try { using var _ = torchvision.models.resnet18(replace_stride_with_dilation: (false, true, true)); dilated = "builds"; }
        catch (Exception e) { dilated = $"throws {e.GetType().Name}: {e.Message}"; }
        output.WriteLine($"  (DeepLab's output stride 8) TorchVision resnet18(replace_stride_with_dilation: (false, true, true)) {dilated}; ours builds it (ResNetBackboneOptions.ReplaceStrideWithDilation)");
    }

    /// <summary>
    /// Copies our random weights (BatchNorm statistics randomised too) into TorchVision's model by state_dict key,
    /// checks the last two maps agree in eval mode, then times eval forward and train forward + backward of the last map.
    /// </summary>
    private static void CompareBackbone(TextWriter output, string name, nn.Module ours, nn.Module theirs, string headPrefix,
        Func<Tensor, Tensor[]> oursMaps, Func<Tensor, Tensor[]> theirsMaps, string[] compared)
    {
        using (no_grad())
        {
            foreach (var (_, module) in ours.named_modules())
            {
                if (module is not TorchSharp.Modules.BatchNorm bn) continue;
                bn.weight!.uniform_(0.5, 1.5);
                bn.bias!.normal_(0, 0.1);
                bn.running_mean!.normal_(0, 0.1);
                bn.running_var!.uniform_(0.5, 1.5);
            }
        }
        var source = ours.state_dict();
        var target = theirs.state_dict();
        int copied = 0;
        using (no_grad())
        {
            foreach (var (key, value) in source)
            {
                if (!target.TryGetValue(key, out var t) || !t.shape.SequenceEqual(value.shape)) continue;
                t.copy_(value);
                copied++;
            }
        }
        var unmatched = target.Keys.Where(k => !k.StartsWith(headPrefix, StringComparison.Ordinal) && !source.ContainsKey(k)).ToArray();
        if (copied != source.Count || unmatched.Length > 0)
            throw new InvalidOperationException($"{name}: {copied} of our {source.Count} state_dict entries found in TorchVision's; theirs without ours: {string.Join(", ", unmatched.Take(5))}.");
        output.WriteLine($"{name}: all {copied} state_dict entries copied by key (TorchVision's besides {headPrefix}*: {target.Count(k => !k.Key.StartsWith(headPrefix, StringComparison.Ordinal))})");

        foreach (var shape in new[] { new long[] { 1, 3, 224, 224 }, new long[] { 4, 3, 128, 128 } })
        {
            var x = randn(shape);
            string input = string.Join("×", shape);
            ours.eval(); theirs.eval();
            using (NewDisposeScope())
            using (no_grad())
            {
                var a = oursMaps(x);
                var b = theirsMaps(x);
                var diffs = new List<string>();
                for (int k = 0; k < compared.Length; k++)
                {
                    int index = a.Length - compared.Length + k;
                    double diff = MaxAbsDiff(a[index], b[index]);
                    double scale = a[index].abs().max().item<float>();
                    if (!(diff <= 1e-4 * Math.Max(1, scale))) throw new InvalidOperationException($"{name} {compared[k]} differs by {diff:G3} (max |value| {scale:G3}) at {input}.");
                    diffs.Add($"{compared[k]} {diff:G3} (max |value| {scale:G3})");
                }
                output.WriteLine($"  {input,-14} same outputs, max |diff|: {string.Join(", ", diffs)}");
            }
            var forward = Alternating(Rounds, () => { using var _ = no_grad(); oursMaps(x); }, () => { using var _ = no_grad(); theirsMaps(x); });
            ours.train(); theirs.train();
            var backward = Alternating(Rounds, () => { ours.zero_grad(); oursMaps(x)[^1].sum().backward(); }, () => { theirs.zero_grad(); theirsMaps(x)[^1].sum().backward(); });
            output.WriteLine($"  {input,-14} forward (eval)     ours {forward[0] * 1e3,8:F1} ms   TorchVision {forward[1] * 1e3,8:F1} ms   ratio {forward[1] / forward[0],5:F2}x");
            output.WriteLine($"  {input,-14} forward + backward ours {backward[0] * 1e3,8:F1} ms   TorchVision {backward[1] * 1e3,8:F1} ms   ratio {backward[1] / backward[0],5:F2}x");
        }
    }

    private static string TryExport(Func<OnnxGraphBuilder, string, object> export)
    {
        var g = new OnnxGraphBuilder();
        var x = g.AddInput("x", OnnxGraphBuilder.BatchDimension, 3, 224, 224);
        try
        {
            export(g, x);
            return $"exports ({g.NodeCount} nodes)";
        }
        catch (OnnxExportException e)
        {
            int end = e.Message.IndexOf(", which cannot be exported", StringComparison.Ordinal);
            return $"FAILS after {g.NodeCount} nodes: {(end > 0 ? e.Message[..end] : e.Message)}";
        }
    }

    /// <summary>
    /// Median seconds per call of each action: a warm-up round, then <paramref name="rounds"/> rounds, alternating, so
    /// that drift in the machine's speed falls on all. A sample repeats the call until the slowest action's sample
    /// lasts about 30 ms (one call for slow actions).
    /// </summary>
    private static double[] Alternating(int rounds, params Action[] actions)
    {
        double slowest = actions.Max(a => Sample(a, 1));
        int inner = (int)Math.Clamp(Math.Ceiling(0.03 / slowest), 1, 1000);
        var times = actions.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
            for (int i = 0; i < actions.Length; i++)
                times[i].Add(Sample(actions[i], inner));
        return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
    }

    private static double Sample(Action action, int inner)
    {
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < inner; r++)
        {
            using var scope = NewDisposeScope();
            action();
        }
        return clock.Elapsed.TotalSeconds / inner;
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a - b).abs().max().item<float>();
    }

    private static int FirstDifference(long[] a, long[] b)
    {
        int i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i]) i++;
        return i;
    }
}
