using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Scoring;

/// <summary>
/// One <see cref="PredictionEngine{TSrc, TDst}"/> of <see cref="ImageInput"/> per calling thread (an engine is not
/// thread-safe; the transformer under it is), created on a thread's first call and disposed with the transformer.
/// Backs <see cref="DetectionTransformer.Detect"/> and <see cref="SegmentationTransformer.Segment"/>.
/// </summary>
internal sealed class PerThreadPredictionEngine<TOutput> : IDisposable where TOutput : class, new()
{
    private readonly ThreadLocal<PredictionEngine<ImageInput, TOutput>> _engines;

    public PerThreadPredictionEngine(ITransformer model, string imagePathColumn)
    {
        _engines = new ThreadLocal<PredictionEngine<ImageInput, TOutput>>(() =>
        {
            var input = SchemaDefinition.Create(typeof(ImageInput));
            input[0].ColumnName = imagePathColumn;
            return new MLContext().Model.CreatePredictionEngine<ImageInput, TOutput>(model, inputSchemaDefinition: input);
        }, trackAllValues: true);
    }

    public TOutput Predict(string imagePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imagePath);
        if (!File.Exists(imagePath))
            throw new FileNotFoundException($"The image '{imagePath}' does not exist.", imagePath);
        return _engines.Value!.Predict(new ImageInput { ImagePath = imagePath });
    }

    public void Dispose()
    {
        foreach (var engine in _engines.Values) engine.Dispose();
        _engines.Dispose();
    }
}
