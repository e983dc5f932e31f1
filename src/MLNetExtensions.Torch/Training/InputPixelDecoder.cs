using System.Collections.Concurrent;
using Microsoft.ML;
using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Decodes one image file at a time to its (C, H, W) bytes at the network's input size, through
/// <see cref="NetworkInput.PixelPipeline"/>: the ML.NET transforms the scoring chain runs, so the pixels are those
/// <see cref="ImagePixels.Load"/> gives and scoring sees. Safe to call from several threads at once: each call borrows one
/// of a pool of prediction engines (with their reused buffers) over the one fitted pipeline.
/// </summary>
internal sealed class InputPixelDecoder : IDisposable
{
    private sealed class PathRow { public string ImagePath = ""; }
    private sealed class PixelRow { public byte[] MLNetExt_TrainPixels = []; }

    private readonly MLContext _ml;
    private readonly ITransformer _pipeline;
    private readonly ConcurrentBag<(PredictionEngine<PathRow, PixelRow> Engine, PathRow Path, PixelRow Pixels)> _engines = new();
    private readonly object _creating = new();
    private bool _disposed;

    public InputPixelDecoder(MLContext ml, NetworkInput input)
    {
        _ml = ml;
        Input = input;
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<PathRow>());
        _pipeline = input.PixelPipeline(ml, nameof(PathRow.ImagePath), nameof(PixelRow.MLNetExt_TrainPixels), asFloat: false).Fit(empty);
    }

    public NetworkInput Input { get; }

    /// <summary>The (C, H, W) bytes of the image at <paramref name="path"/>; throws what ML.NET's image loading throws.</summary>
    public byte[] Decode(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_engines.TryTake(out var engine))
            lock (_creating) engine = (_ml.Model.CreatePredictionEngine<PathRow, PixelRow>(_pipeline), new PathRow(), new PixelRow());
        try
        {
            engine.Path.ImagePath = path;
            engine.Engine.Predict(engine.Path, ref engine.Pixels);   // the engine's buffers are reused; the caller gets a copy
            var pixels = engine.Pixels.MLNetExt_TrainPixels;
            int expected = Input.Channels * Input.Height * Input.Width;
            if (pixels.Length != expected)
                throw new InvalidDataException($"Decoding gave {pixels.Length} values instead of {expected} ({Input.Channels}×{Input.Height}×{Input.Width}).");
            return (byte[])pixels.Clone();
        }
        finally { _engines.Add(engine); }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_engines.TryTake(out var engine)) engine.Engine.Dispose();
    }
}
