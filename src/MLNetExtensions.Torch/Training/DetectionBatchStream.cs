using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// A detection training set's batches made ahead of the training loop by data workers (<see cref="BatchPrefetcher{TSample}"/>):
/// each worker decodes an image from its file at its own size (<see cref="NetworkInput.Decode"/>, the decoder of the
/// scoring chain) or takes it from the optional <see cref="DecodedImageCache"/>, augments the original and resizes it to
/// the input with the scoring chain's filter (<see cref="DetectionPixelAugmenter"/>), with the generator of its
/// (seed, step, position) (<see cref="TrainingPlan.SampleRandom"/>). Memory is O(batch × prefetch) without the cache.
/// </summary>
internal sealed class DetectionBatchStream : IDisposable
{
    /// <summary>An image's C × H × W pixels (a buffer of the stream's, reused once copied into a batch) and target.</summary>
    private sealed record Sample(float[] Pixels, DetectionTarget Target);

    private readonly DetectionTrainingSet _set;
    private readonly TrainingPlan _plan;
    private readonly DetectionAugmentation? _augmentation;
    private readonly DecodedImageCache<DecodedImage>? _cache;
    private readonly int _workers;
    private readonly IReadOnlyList<NetworkInput> _inputs;
    private readonly int _sampleSize;   // floats of the largest input's image
    private readonly StreamedSteps<Sample> _steps;
    // The images' buffers, reused: about BatchSize × (prefetch + 1) + workers of them ever exist.
    private readonly System.Collections.Concurrent.ConcurrentBag<float[]> _buffers = new();

    /// <summary>Batches of <paramref name="set"/> (its pixels are not needed) by <paramref name="workers"/> threads at most
    /// <paramref name="prefetch"/> steps ahead; every decoded image is kept in memory when the whole set at the input
    /// own size takes at most <paramref name="cacheBudget"/> bytes (0: never). The choice goes to <paramref name="log"/>.
    /// Each step's batch is made at one of <paramref name="inputs"/> (multi-scale training; the set's input when null),
    /// drawn by <see cref="TrainingPlan.BatchChoice"/>.</summary>
    public DetectionBatchStream(DetectionTrainingSet set, TrainingPlan plan, DetectionAugmentation? augmentation,
        int workers, int prefetch, long cacheBudget, IHostEnvironment? log, string logSource, IReadOnlyList<NetworkInput>? inputs = null)
    {
        _set = set;
        _plan = plan;
        _augmentation = augmentation;
        _workers = workers;
        _inputs = inputs ?? [set.Input];
        if (_inputs.Count == 0 || _inputs.Any(i => i.Channels != set.Input.Channels))
            throw new ArgumentException("The training inputs must be at least one, all in the set's colour.", nameof(inputs));
        _sampleSize = _inputs.Max(i => i.Channels * i.Height * i.Width);
        _steps = new StreamedSteps<Sample>(plan, Make, workers, prefetch);
        if (_inputs.Count > 1)
            log.Info(logSource, $"Multi-scale training: each step at one of {string.Join(", ", _inputs.Select(i => $"{i.Width}×{i.Height}"))} (validation and scoring at {set.Input.Width}×{set.Input.Height}).");
        if (StreamedSteps.KeepsDecoded("Training images", "images", set.Count, DecodedImageCache.BytesFor(set.Sizes, set.Input.Channels),
                cacheBudget, workers, prefetch, log, logSource))
            _cache = new DecodedImageCache<DecodedImage>(set.Count);
    }

    /// <summary>Whether decoded images are kept in memory.</summary>
    public bool Caches => _cache != null;

    /// <summary>The data workers' count.</summary>
    public int Workers => _workers;

    /// <summary>Step <paramref name="step"/>'s images as (B, C, H, W) float pixels in [0, 255] on <paramref name="device"/>,
    /// with their targets. Steps are asked for in order; any other step (a resumed or restarted run) starts the workers
    /// over from it.</summary>
    public (Tensor Images, List<DetectionTarget> Targets) Batch(int step, int[] indices, Device device)
    {
        var samples = _steps.Take(step, indices);
        var input = InputOf(step);
        int size = input.Channels * input.Height * input.Width;
        // Copied straight into the tensor's memory: no managed array per step (a large-object-heap array per step piles up
        // as garbage between the rare full collections when the cache holds a large live array).
        var images = empty([samples.Length, input.Channels, input.Height, input.Width], ScalarType.Float32);
        var pixels = images.data<float>();
        for (int b = 0; b < samples.Length; b++)
        {
            pixels.CopyFrom(new ReadOnlySpan<float>(samples[b].Pixels, 0, size), 0, (long)b * size);
            _buffers.Add(samples[b].Pixels);
        }
        if (device.type != TorchSharp.DeviceType.CPU)
        {
            var moved = images.to(device);
            images.Dispose();
            images = moved;
        }
        return (images, samples.Select(s => s.Target).ToList());
    }

    private Sample Make(int step, int position, int index)
    {
        if (!_buffers.TryTake(out var output)) output = new float[_sampleSize];   // back to _buffers once copied into the batch
        var input = InputOf(step);
        var target = _set.Sample(i => _cache != null ? _cache.GetOrAdd(i, Decode) : Decode(i), index, _augmentation, _plan.SampleRandom(step, position),
            output.AsSpan(0, input.Channels * input.Height * input.Width), input);
        return new Sample(output, target);
    }

    /// <summary>The input step <paramref name="step"/>'s batch is made at.</summary>
    public NetworkInput InputOf(int step) => _inputs[_plan.BatchChoice(step, _inputs.Count)];

    private DecodedImage Decode(int index)
        => StreamedSteps.ReadRow(index, _set.DataName, $"image '{_set.Paths[index]}'", () => _set.Input.Decode(_set.Paths[index]));

    /// <summary>Stops and joins the data workers.</summary>
    public void Dispose() => _steps.Dispose();
}
