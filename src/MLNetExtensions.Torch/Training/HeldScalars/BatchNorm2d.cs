using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training.HeldScalars;

/// <summary>
/// TorchSharp's BatchNorm2d with the Scalars of its forward held. TorchSharp's own forward counts the step with
/// <c>num_batches_tracked.add_(1)</c>, whose Scalar 1 and alpha 1 are temporaries the finalizer can free while libtorch
/// still reads them (dotnet/TorchSharp#1434); under the <c>scalar-stress</c> bench's forced collections a Faster R-CNN
/// run failed there (<c>TorchSharp.Modules.BatchNorm.forward</c>, "For integral input tensors, argument alpha must not
/// be a floating point number": the freed Scalar's memory already held a float). TorchSharp's BatchNorm2d is sealed
/// with an internal constructor, so this one derives from its base <see cref="TorchSharp.Modules.BatchNorm"/>: same
/// parameters and buffers under the same names (state dicts and checkpoints are interchangeable), same forward
/// (<see cref="nn.functional.batch_norm"/> with the same arguments), the count added with <see cref="HeldArithmetic.One"/>.
/// Code that inspects BatchNorms matches the base class, which both types share.
/// </summary>
internal sealed class BatchNorm2d : TorchSharp.Modules.BatchNorm
{
    /// <param name="numFeatures">C of the (N, C, H, W) input.</param>
    /// <param name="eps">Added to the variance (TorchSharp's and torchvision's default 1e-5).</param>
    /// <param name="momentum">Weight of the batch in the running statistics (default 0.1).</param>
    public BatchNorm2d(long numFeatures, double eps = 1e-5, double momentum = 0.1)
        : base(numFeatures, eps, momentum, affine: true, track_running_stats: true, device: null, dtype: null, nameof(BatchNorm2d)) { }

    /// <summary>TorchSharp's <c>BatchNorm.forward</c>, with the count's Scalars held.</summary>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.add_(HeldArithmetic.One, HeldArithmetic.One);
            if (momentum is null) factor = 1.0 / num_batches_tracked.item<long>();   // cumulative average
        }
        bool batchStatistics = training || (running_mean is null && running_var is null);
        bool useRunning = !training || track_running_stats;
        return nn.functional.batch_norm(input, useRunning ? running_mean : null, useRunning ? running_var : null, weight, bias, batchStatistics, factor, eps);
    }

    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"expected 4D input, but got {input.ndim}D input.");
    }
}
