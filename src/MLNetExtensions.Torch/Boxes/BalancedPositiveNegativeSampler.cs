using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Boxes;

/// <summary>
/// Draws a fixed-size training batch of anchors or proposals per image with a target share of positives, as
/// torchvision's <c>BalancedPositiveNegativeSampler</c> does for Faster R-CNN (RPN: 256 at 0.5; RoI head: 512 at 0.25).
/// </summary>
/// <remarks>
/// Labels &gt;= 1 are positives, 0 negatives, anything below 0 (ignored, between thresholds) is never drawn. Up to
/// <c>floor(BatchSizePerImage · PositiveFraction)</c> positives are drawn, and negatives fill the rest of the batch
/// as far as there are enough. Draws come from a seeded generator on the CPU, so a run is reproducible on any device.
/// </remarks>
public sealed class BalancedPositiveNegativeSampler : IDisposable
{
    private readonly Generator _generator;
    private readonly bool _ownsGenerator;

    /// <summary>A sampler with its own generator seeded with <paramref name="seed"/>.</summary>
    public BalancedPositiveNegativeSampler(int batchSizePerImage, float positiveFraction, long seed)
        : this(batchSizePerImage, positiveFraction, new Generator((ulong)seed), ownsGenerator: true) { }

    /// <summary>A sampler drawing from <paramref name="generator"/>, a CPU generator the caller owns.</summary>
    /// <param name="batchSizePerImage">Anchors or proposals drawn per image, positives and negatives together.</param>
    /// <param name="positiveFraction">Target share of positives in [0, 1].</param>
    /// <param name="generator">CPU random generator.</param>
    public BalancedPositiveNegativeSampler(int batchSizePerImage, float positiveFraction, Generator generator)
        : this(batchSizePerImage, positiveFraction, generator, ownsGenerator: false) { }

    private BalancedPositiveNegativeSampler(int batchSizePerImage, float positiveFraction, Generator generator, bool ownsGenerator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        if (batchSizePerImage <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchSizePerImage), batchSizePerImage, "The batch size per image must be positive.");
        if (!(positiveFraction >= 0f && positiveFraction <= 1f))
            throw new ArgumentOutOfRangeException(nameof(positiveFraction), positiveFraction, "The positive fraction must be in [0, 1].");
        BatchSizePerImage = batchSizePerImage;
        PositiveFraction = positiveFraction;
        _generator = generator;
        _ownsGenerator = ownsGenerator;
    }

    /// <summary>Anchors or proposals drawn per image.</summary>
    public int BatchSizePerImage { get; }

    /// <summary>Target share of positives.</summary>
    public float PositiveFraction { get; }

    /// <summary>Draws the positives and negatives of one image.</summary>
    /// <param name="labels"><c>(A)</c> integer labels: &gt;= 1 positive, 0 negative, &lt; 0 ignored.</param>
    /// <returns>Two <c>(A)</c> bool masks on the labels' device: the drawn positives and the drawn negatives.</returns>
    public (Tensor Positive, Tensor Negative) Sample(Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1 || labels.is_floating_point() || labels.dtype == ScalarType.Bool)
            throw new ArgumentException($"'labels' has shape ({string.Join(", ", labels.shape)}) and dtype {labels.dtype}; expected a 1-D integer tensor (>= 1 positive, 0 negative, < 0 ignored).", nameof(labels));
        using var scope = torch.NewDisposeScope();
        using Scalar one = 1, zero = 0;                    // held (dotnet/TorchSharp#1434)
        var positive = (labels >= one).nonzero().view(-1); // (P)
        var negative = (labels == zero).nonzero().view(-1); // (Q)
        long positives = Math.Min(positive.shape[0], (long)(BatchSizePerImage * (double)PositiveFraction));
        long negatives = Math.Min(negative.shape[0], BatchSizePerImage - positives);
        var positiveMask = Draw(positive, positives, labels);
        var negativeMask = Draw(negative, negatives, labels);
        return (positiveMask.MoveToOuterDisposeScope(), negativeMask.MoveToOuterDisposeScope());
    }

    /// <summary>Draws for each image of a batch; see <see cref="Sample(Tensor)"/>.</summary>
    public (Tensor[] Positive, Tensor[] Negative) Sample(IReadOnlyList<Tensor> labelsPerImage)
    {
        ArgumentNullException.ThrowIfNull(labelsPerImage);
        var positive = new Tensor[labelsPerImage.Count];
        var negative = new Tensor[labelsPerImage.Count];
        for (int i = 0; i < labelsPerImage.Count; i++)
            (positive[i], negative[i]) = Sample(labelsPerImage[i]);
        return (positive, negative);
    }

    /// <summary>A mask shaped like <paramref name="labels"/> with <paramref name="count"/> of <paramref name="candidates"/> drawn at random.</summary>
    private Tensor Draw(Tensor candidates, long count, Tensor labels)
    {
        var permutation = torch.randperm(candidates.shape[0], generator: _generator)[..(int)count].to(labels.device); // (count)
        var mask = torch.zeros(labels.shape, dtype: ScalarType.Bool, device: labels.device);                              // (A)
        mask.index_put_(torch.tensor(true, device: labels.device), candidates.index_select(0, permutation));
        return mask;
    }

    /// <summary>Disposes the generator when this sampler created it.</summary>
    public void Dispose()
    {
        if (_ownsGenerator) _generator.Dispose();
    }
}
