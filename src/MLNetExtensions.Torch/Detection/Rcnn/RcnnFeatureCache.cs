using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// R-CNN's feature cache: the fine-tuned CNN's features of every region (proposals and ground truth) of every training
/// image, computed in ONNX Runtime from the exported CNN graph (as the paper caches pool5/fc7 features to disk before
/// training the SVMs), standardised per dimension and divided by √D, so that their mean squared norm is 1 (the paper
/// scales its features to a mean norm of 20 for liblinear; ML.NET's <c>LinearSvm</c> is a Pegasos solver, whose steps
/// need features of about unit norm, and a pooled ReLU feature is all positive, so without centring its norm is mostly
/// the mean feature, which a linear model cannot use to tell regions apart).
/// </summary>
internal sealed class RcnnFeatureCache
{
    private RcnnFeatureCache(float[][] features, int size, float[] mean, float[] scale)
    {
        Features = features;
        Size = size;
        Mean = mean;
        Scale = scale;
    }

    /// <summary>Per image, (R, D) row-major features of its <see cref="RcnnRegions"/>, already standardised: (x − <see cref="Mean"/>) · <see cref="Scale"/>.</summary>
    public float[][] Features { get; }

    /// <summary>D.</summary>
    public int Size { get; }

    /// <summary>Per dimension, the CNN features' mean over all cached regions.</summary>
    public float[] Mean { get; }

    /// <summary>Per dimension, 1 / (standard deviation · √D).</summary>
    public float[] Scale { get; }

    /// <summary>A linear model (weights <paramref name="w"/>, D values, and bias) on the cached features as one on the CNN's own
    /// features: <c>w · ((x − μ) · s) + b = (w · s) · x + (b − Σ w s μ)</c>.</summary>
    public (float[] Weights, float Bias) Unstandardise(ReadOnlySpan<float> w, float bias)
    {
        var result = new float[Size];
        double b = bias;
        for (int j = 0; j < Size; j++)
        {
            result[j] = w[j] * Scale[j];
            b -= (double)result[j] * Mean[j];
        }
        return (result, (float)b);
    }

    public ReadOnlySpan<float> Row(int image, int region) => Features[image].AsSpan(region * Size, Size);

    public static RcnnFeatureCache Compute(byte[] cnnOnnx, DetectionTrainingSet set, RcnnRegions[] regions, int? threads)
    {
        using var options = new SessionOptions();
        if (threads is int t) options.IntraOpNumThreads = t;
        using var session = new InferenceSession(cnnOnnx, options);
        var input = set.Input;
        var features = new float[set.Count][];
        int size = 0;
        double[] sum = [], squares = [];
        long count = 0;
        for (int i = 0; i < set.Count; i++)
        {
            var bytes = set.PixelsOf(i);
            var pixels = new DenseTensor<float>(bytes.Select(b => (float)b).ToArray(), [1, input.Channels, input.Height, input.Width]);
            int r = regions[i].Count;
            if (r == 0) { features[i] = []; continue; }
            var boxes = new DenseTensor<float>(regions[i].Boxes, [r, 4]);
            using var results = session.Run(
                [NamedOnnxValue.CreateFromTensor(ScoringColumns.OnnxPixels, pixels), NamedOnnxValue.CreateFromTensor(RcnnNetwork.RegionsInput, boxes)],
                [RcnnNetwork.FeaturesOutput]);
            var output = results.First().AsTensor<float>();
            if (size == 0) { size = output.Dimensions[1]; sum = new double[size]; squares = new double[size]; }
            features[i] = output.ToArray();
            for (int k = 0; k < r; k++)
                for (int j = 0; j < size; j++) { double v = features[i][k * size + j]; sum[j] += v; squares[j] += v * v; }
            count += r;
        }
        var mean = new float[size];
        var scale = new float[size];
        for (int j = 0; j < size; j++)
        {
            double m = sum[j] / Math.Max(1, count), variance = Math.Max(0, squares[j] / Math.Max(1, count) - m * m);
            mean[j] = (float)m;
            scale[j] = (float)(1 / (Math.Sqrt(variance + 1e-6) * Math.Sqrt(size)));
        }
        foreach (var f in features)
            for (int j = 0; j < f.Length; j++) f[j] = (f[j] - mean[j % size]) * scale[j % size];
        return new RcnnFeatureCache(features, size, mean, scale);
    }
}
