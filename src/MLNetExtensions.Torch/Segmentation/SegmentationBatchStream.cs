using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// A segmentation training set's batches made ahead of the training loop by data workers
/// (<see cref="BatchPrefetcher{TSample}"/>; by default none: on the training thread, see <see cref="TrainerOptions.DataWorkers"/>), as <see cref="DetectionBatchStream"/> makes the detectors': each worker
/// decodes an image and its mask from their files at their own size (or takes them from the optional
/// <see cref="DecodedImageCache{T}"/>) and augments them into the input size
/// (<see cref="SegmentationTrainingSet.Sample"/>) with the generator of its (seed, step, position)
/// (<see cref="TrainingPlan.SampleRandom"/>); ClassMix, which pairs the images of a batch, runs on the training thread
/// with the step's generator. Memory is O(batch × prefetch) without the cache.
/// </summary>
internal sealed class SegmentationBatchStream : IDisposable
{
    /// <summary>An image's (C, H, W) float pixels and its (H, W) target at the input size.</summary>
    private sealed record Sample(float[] Pixels, long[] Target);

    private readonly SegmentationTrainingSet _set;
    private readonly TrainingPlan _plan;
    private readonly SegmentationAugmentation? _augmentation;
    private readonly DecodedImageCache<DecodedImage>? _images;
    private readonly DecodedImageCache<SegmentationMask>? _masks;
    private readonly StreamedSteps<Sample> _steps;

    /// <summary>Batches of <paramref name="set"/> (its images need not be held) by <paramref name="workers"/> threads at most
    /// <paramref name="prefetch"/> steps ahead; every decoded image and mask is kept in memory when all of them at their
    /// own size take at most <paramref name="cacheBudget"/> bytes (0: never). The choice goes to <paramref name="log"/>.</summary>
    public SegmentationBatchStream(SegmentationTrainingSet set, TrainingPlan plan, SegmentationAugmentation? augmentation,
        int workers, int prefetch, long cacheBudget, IHostEnvironment? log, string logSource)
    {
        _set = set;
        _plan = plan;
        _augmentation = augmentation;
        _steps = new StreamedSteps<Sample>(plan, Make, workers, prefetch);
        long bytes = DecodedImageCache.BytesFor(set.Sizes, set.Input.Channels + 1);   // the mask: one byte a pixel
        if (StreamedSteps.KeepsDecoded("Training images and masks", "rows", set.Count, bytes, cacheBudget, workers, prefetch, log, logSource))
        {
            _images = new DecodedImageCache<DecodedImage>(set.Count);
            _masks = new DecodedImageCache<SegmentationMask>(set.Count);
        }
    }

    /// <summary>Whether decoded images and masks are kept in memory.</summary>
    public bool Caches => _images != null;

    /// <summary>Step <paramref name="step"/>'s images (B, C, H, W) float pixels in [0, 255] and targets (B, H, W) int64 on
    /// <paramref name="device"/>, ClassMix drawn from <paramref name="rng"/> (the step's generator). Steps are asked for in
    /// order; any other step (a resumed or restarted run) starts the workers over from it.</summary>
    public (Tensor Images, Tensor Targets) Batch(int step, int[] indices, Random rng, Device device)
    {
        var samples = _steps.Take(step, indices);
        using var scope = NewDisposeScope();
        var input = _set.Input;
        var images = samples.Select(s => tensor(s.Pixels, [input.Channels, input.Height, input.Width])).ToList();   // (C, H, W) each
        var targets = samples.Select(s => tensor(s.Target, [input.Height, input.Width])).ToList();                   // (H, W) each
        if (_augmentation is { ClassMix: > 0 }) (images, targets) = SegmentationTrainingSet.ClassMix(images, targets, _augmentation.ClassMix, rng);
        return (stack(images).to(device).MoveToOuterDisposeScope(), stack(targets).to(device).MoveToOuterDisposeScope());
    }

    private Sample Make(int step, int position, int index)
    {
        using var scope = NewDisposeScope();
        var image = _images != null ? _images.GetOrAdd(index, _set.ReadImage) : _set.ReadImage(index);
        var mask = _masks != null ? _masks.GetOrAdd(index, _set.ReadMask) : _set.ReadMask(index);
        var (pixels, target) = _set.Sample(image, mask, _augmentation, _plan.SampleRandom(step, position));
        return new Sample(pixels.contiguous().data<float>().ToArray(), target.contiguous().data<long>().ToArray());
    }


    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose() => _steps.Dispose();
}
