using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using MLNetExtensions.Boxes;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// R-CNN's second stage, on the cached region features: per class a binary linear SVM (ML.NET's <c>LinearSvm</c>;
/// positives the ground-truth boxes of the class, negatives the regions with IoU &lt; <c>SvmNegativeIouThreshold</c>
/// with every box of the class, grown by rounds of <see cref="HardNegativeMining"/>) and a class-specific box regression
/// (ML.NET's SDCA regression with L2 only, i.e. ridge regression, one per delta; on the proposals with IoU ≥
/// <c>BoxRegressionIouThreshold</c> with a box of the class, towards that box).
/// </summary>
internal sealed class RcnnHeadTrainer
{
    private readonly RcnnDetectorOptions _o;
    private readonly IHostEnvironment? _log;
    private readonly MLContext _ml;

    public RcnnHeadTrainer(RcnnDetectorOptions options, IHostEnvironment? log)
    {
        _o = options;
        _log = log;
        _ml = new MLContext(options.Seed);
    }

    /// <summary>Per class, the rounds' training-set sizes, for the log and tests.</summary>
    public List<string> Report { get; } = [];

    public RcnnClassHeads Train(RcnnFeatureCache cache, RcnnRegions[] regions, IReadOnlyList<DetectionTarget> targets, string[] classNames)
    {
        int c = classNames.Length, d = cache.Size;
        var svmW = new float[c * d];
        var svmB = new float[c];
        var regW = new float[4 * c * d];
        var regB = new float[4 * c];
        for (int k = 0; k < c; k++)
        {
            long label = k + 1;
            var positives = new List<(int Image, int Region)>();
            var negatives = new List<(int Image, int Region)>();
            var regression = new List<(int Image, int Region, int Truth)>();
            for (int i = 0; i < regions.Length; i++)
            {
                var r = regions[i];
                var t = targets[i];
                for (int q = 0; q < r.Count; q++)
                {
                    float iou = r.IouWithClass(q, label, t);
                    bool truth = q >= r.ProposalCount;
                    if (truth && t.Labels[q - r.ProposalCount] == label) positives.Add((i, q));
                    else if (iou < _o.SvmNegativeIouThreshold) negatives.Add((i, q));
                    if (!truth && iou >= _o.BoxRegressionIouThreshold) regression.Add((i, q, BestTruthOfClass(r, q, label, t)));
                }
            }
            // Every class has a positive: RcnnTrainingTask refuses a class without boxes before any training.
            // The cache holds standardised features: the models are turned into ones on the network's own features.
            var (w, b) = TrainSvm(cache, positives, negatives, classNames[k]);
            (w, svmB[k]) = cache.Unstandardise(w, b);
            w.CopyTo(svmW, k * d);
            var (rw, rb) = TrainRegression(cache, regions, targets, regression, classNames[k]);
            for (int j = 0; j < 4; j++)
            {
                var (wj, bj) = cache.Unstandardise(rw.AsSpan(j * d, d), rb[j]);
                wj.CopyTo(regW, (4 * k + j) * d);
                regB[4 * k + j] = bj;
            }
        }
        return new RcnnClassHeads(svmW, svmB, regW, regB);
    }

    private static int BestTruthOfClass(RcnnRegions r, int q, long label, DetectionTarget t)
    {
        int best = -1;
        for (int g = 0; g < r.GroundTruthCount; g++)
            if (t.Labels[g] == label && (best < 0 || r.Iou[q * r.GroundTruthCount + g] > r.Iou[q * r.GroundTruthCount + best])) best = g;
        return best;
    }

    /// <summary>The SVM of one class: trained on the positives and a random start of the negatives, then retrained after each
    /// round of hard negative mining over all the negatives.</summary>
    private (float[] Weights, float Bias) TrainSvm(RcnnFeatureCache cache, List<(int Image, int Region)> positives, List<(int Image, int Region)> negatives, string className)
    {
        var rng = new Random(_o.Seed);
        var inSet = new bool[negatives.Count];
        foreach (int i in Enumerable.Range(0, negatives.Count).OrderBy(_ => rng.Next()).Take(_o.SvmNegativesPerRound)) inSet[i] = true;
        float[] w = [];
        float bias = 0;
        var scores = new float[negatives.Count];
        for (int round = 0; ; round++)
        {
            var rows = positives.Select(p => new SvmRow { Label = true, Features = cache.Row(p.Image, p.Region), Weight = _o.SvmPositiveWeight })
                .Concat(Enumerable.Range(0, negatives.Count).Where(i => inSet[i]).Select(i => new SvmRow { Label = false, Features = cache.Row(negatives[i].Image, negatives[i].Region), Weight = 1f }));
            var data = _ml.Data.LoadFromEnumerable(rows, SvmRow.Schema(cache.Size));
            var model = _ml.BinaryClassification.Trainers.LinearSvm(new LinearSvmTrainer.Options
            {
                LabelColumnName = nameof(SvmRow.Label), FeatureColumnName = nameof(SvmRow.Features), ExampleWeightColumnName = nameof(SvmRow.Weight),
                Lambda = _o.SvmLambda, NumberOfIterations = _o.SvmIterations, PerformProjection = true,
            }).Fit(data).Model;
            w = model.Weights.ToArray();
            bias = model.Bias;
            for (int i = 0; i < negatives.Count; i++) scores[i] = Dot(w, cache.Row(negatives[i].Image, negatives[i].Region)) + bias;
            int cached = inSet.Count(x => x);
            if (round == _o.HardNegativeRounds)
            {
                Report.Add($"{className}: SVM on {positives.Count} positives and {cached} of {negatives.Count} negatives after {round} rounds of hard negative mining");
                _log.Info(nameof(RcnnDetectorEstimator), Report[^1]);
                return (w, bias);
            }
            var hard = HardNegativeMining.Select(scores, inSet, _o.SvmNegativesPerRound);
            _log.Info(nameof(RcnnDetectorEstimator), $"{className}: hard negative mining round {round + 1}: {hard.Length} hard negatives join the {cached} in the SVM's training set.");
            if (hard.Length == 0)
            {
                Report.Add($"{className}: SVM on {positives.Count} positives and {cached} of {negatives.Count} negatives; no hard negatives left after {round} rounds");
                return (w, bias);
            }
            foreach (int i in hard) inSet[i] = true;
        }
    }

    /// <summary>The box regression of one class: four ridge regressions from the features to the deltas of the matched box.</summary>
    private (float[] Weights, float[] Biases) TrainRegression(RcnnFeatureCache cache, RcnnRegions[] regions, IReadOnlyList<DetectionTarget> targets,
        List<(int Image, int Region, int Truth)> pairs, string className)
    {
        int d = cache.Size;
        var weights = new float[4 * d];
        var biases = new float[4];
        if (pairs.Count < 2)
        {
            _log.Info(nameof(RcnnDetectorEstimator), $"{className}: {pairs.Count} proposals with IoU >= {_o.BoxRegressionIouThreshold}; its boxes are not regressed.");
            return (weights, biases);
        }
        var coder = FasterRcnnBoxCoder.Rpn();
        var deltas = pairs.Select(p =>
        {
            var r = regions[p.Image];
            return coder.Encode(targets[p.Image].Boxes.AsSpan(4 * p.Truth, 4), r.Boxes.AsSpan(4 * p.Region, 4));
        }).ToArray();
        for (int j = 0; j < 4; j++)
        {
            var rows = pairs.Select((p, n) => new RegressionRow { Label = deltas[n][j], Features = cache.Row(p.Image, p.Region) });
            var data = _ml.Data.LoadFromEnumerable(rows, RegressionRow.Schema(d));
            var model = _ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options
            {
                LabelColumnName = nameof(RegressionRow.Label), FeatureColumnName = nameof(RegressionRow.Features),
                L2Regularization = _o.BoxRegressionL2, L1Regularization = 0f, NumberOfThreads = 1, Shuffle = true,
            }).Fit(data).Model;
            model.Weights.ToArray().CopyTo(weights, j * d);
            biases[j] = model.Bias;
        }
        Report.Add($"{className}: box regression on {pairs.Count} proposals");
        return (weights, biases);
    }

    private static float Dot(float[] w, ReadOnlySpan<float> x)
    {
        float s = 0;
        for (int j = 0; j < w.Length; j++) s += w[j] * x[j];
        return s;
    }

    private sealed class SvmRow
    {
        public bool Label;
        public float[] Features = [];
        public float Weight;

        public static SchemaDefinition Schema(int size)
        {
            var s = SchemaDefinition.Create(typeof(SvmRow));
            s[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
            return s;
        }
    }

    private sealed class RegressionRow
    {
        public float Label;
        public float[] Features = [];

        public static SchemaDefinition Schema(int size)
        {
            var s = SchemaDefinition.Create(typeof(RegressionRow));
            s[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
            return s;
        }
    }
}
