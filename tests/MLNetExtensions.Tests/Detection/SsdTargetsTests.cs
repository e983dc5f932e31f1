using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Boxes;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Detection;

/// <summary>
/// SSD's training targets are made for a whole batch at once (<c>SsdDetectorModel.MakeTargets</c>); each image must get
/// exactly the labels and encoded boxes that matching it alone gives (the reference below: IoU, <see cref="SsdMatcher"/>,
/// <see cref="BoxCoder"/> per image), whatever the other images hold.
/// </summary>
[TestClass]
public sealed class SsdTargetsTests
{
    [TestMethod]
    [DataRow(8, 1)]
    [DataRow(8, 2)]
    [DataRow(3, 3)]
    [DataRow(40, 4)]   // more boxes than fit one chunk: several chunks
    public void BatchTargetsEqualMatchingEachImageAlone(int images, int seed)
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var options = new SsdDetectorOptions { InputWidth = 128, InputHeight = 128, WidthMultiplier = 0.5f, IgnoreIouThreshold = 0.3f };
        var model = new SsdDetectorModel(options, 5, CPU);
        var rng = new Random(seed);
        var targets = Enumerable.Range(0, images).Select(i =>
        {
            // Image 1 has no boxes; image 2 holds the same box twice (both claim one default box: the later one wins).
            int n = i == 1 ? 0 : images > 8 ? rng.Next(20, 40) : rng.Next(1, 6);
            var boxes = new float[4 * n];
            for (int k = 0; k < n; k++)
            {
                float w = 0.03f + 0.5f * rng.NextSingle(), h = 0.03f + 0.5f * rng.NextSingle(), x = (1 - w) * rng.NextSingle(), y = (1 - h) * rng.NextSingle();
                (boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3]) = (x, y, x + w, y + h);
            }
            if (i == 2 && n >= 2) Array.Copy(boxes, 0, boxes, 4, 4);
            return new DetectionTarget(boxes, Enumerable.Range(0, n).Select(_ => (long)rng.Next(1, 6)).ToArray());
        }).ToList();

        var (labels, encoded) = model.MakeTargets(targets, CPU);                     // (B, A), (B, A, 4)

        var priors = tensor(model.Priors.ToCorners(1f, 1f), ScalarType.Float32).reshape(-1, 4);
        var matcher = new SsdMatcher(options.MatchIouThreshold, options.IgnoreIouThreshold);
        var coder = BoxCoder.FromVariances();
        Assert.AreEqual(images, (int)labels.shape[0]);
        for (int i = 0; i < images; i++)
        {
            var t = targets[i];
            Tensor expectedLabels, expectedBoxes;
            if (t.Count == 0)
            {
                expectedLabels = zeros(priors.shape[0], dtype: ScalarType.Int64);
                expectedBoxes = zeros(priors.shape[0], 4);
            }
            else
            {
                var gt = tensor(t.Boxes, ScalarType.Float32).reshape(-1, 4);
                var matched = matcher.Match(BoxIou.Pairwise(gt, priors));
                var safe = matched.clamp_min(0);
                var unmatched = where(matched.eq(Matcher.BetweenThresholds), full_like(safe, SsdLoss.Ignored), zeros_like(safe));
                expectedLabels = where(matched.ge(0), tensor(t.Labels, ScalarType.Int64).index_select(0, safe), unmatched);
                expectedBoxes = coder.Encode(gt.index_select(0, safe), priors);
            }
            Assert.IsTrue(labels[i].eq(expectedLabels).all().item<bool>(), $"image {i} (seed {seed}): labels differ at {labels[i].ne(expectedLabels).sum().item<long>()} default boxes");
            Assert.IsTrue(encoded[i].eq(expectedBoxes).all().item<bool>(), $"image {i} (seed {seed}): encoded boxes differ, max {(encoded[i] - expectedBoxes).abs().max().item<float>()}");
            if (t.Count > 0) Assert.IsTrue(expectedLabels.gt(0).any().item<bool>(), $"image {i}: no positive default box, the case tests nothing");
        }
    }
}
