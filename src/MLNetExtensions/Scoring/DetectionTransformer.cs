using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained detector as an ML.NET transformer: reads the image path column and adds <c>PredictedBoxes</c> (N×4 pixels
/// of the original image), <c>PredictedLabels</c> (keys whose values are the class names) and <c>Scores</c>.
/// </summary>
/// <remarks>
/// It is a chain of public ML.NET pieces (the network runs in <c>ApplyOnnxModel</c>, whose ONNX bytes are stored in
/// the saved zip; NMS and formatting run in stateless <c>CustomMapping</c>s), so <c>mlContext.Model.Save</c> writes that
/// chain and <c>mlContext.Model.Load</c> in any process gives it back; <see cref="Load(MLContext, string)"/> re-wraps it
/// (<see cref="OnnxScoringTransformer"/>).
/// Scoring needs neither TorchSharp nor libtorch.
/// </remarks>
public sealed class DetectionTransformer : OnnxScoringTransformer
{
    // ONNX Runtime's first runs on a new session cost several steady runs (memory planning, arena growth), so the
    // batched path keeps one session for the transformer's lifetime instead of one per ScoreBatched call.
    private readonly Lazy<InferenceSession> _session;

    private DetectionTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain)
        : base(onnxModel, metadata, chain)
    {
        _session = new Lazy<InferenceSession>(() => new InferenceSession(onnxModel), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Builds the scoring chain for an exported detector.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = DetectionColumns.ImagePath)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var metadata = ReadMetadata(onnxModel, OnnxModelKind.Detection, "detector");
        var classNames = metadata.ClassNames;
        var chain = BuildChain(mlContext, onnxModel, metadata, imagePathColumn,
            [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess],
            [
                mlContext.Transforms.CustomMapping(new DetectionOutputMapping().GetMapping(), DetectionOutputMapping.ContractName),
                mlContext.Transforms.Conversion.MapValue(ScoringColumns.LabelNames,
                    classNames.Select((n, i) => new KeyValuePair<uint, string>((uint)(i + 1), n)), ScoringColumns.LabelIndices),
                mlContext.Transforms.Conversion.MapValueToKey(DetectionColumns.PredictedLabels, ScoringColumns.LabelNames,
                    keyData: mlContext.Data.LoadFromEnumerable(classNames.Select(n => new ClassNameRow { Name = n }))),
            ],
            [ScoringColumns.LabelIndices, ScoringColumns.LabelNames]);
        return new DetectionTransformer(onnxModel, metadata, chain);
    }

    /// <summary>Loads a detector saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="OnnxScoringTransformer.Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path)
    {
        var (onnx, metadata, chain) = LoadSaved(mlContext, path, OnnxModelKind.Detection, "detector", nameof(DetectionTransformer));
        return new DetectionTransformer(onnx, metadata, chain);
    }

    /// <summary>
    /// Scores <paramref name="input"/> with ONNX Runtime in batches of <paramref name="batchSize"/> images instead of
    /// ML.NET's one row at a time, and returns the input with the same three prediction columns (same types and key
    /// values) that <see cref="Transform"/> adds. The pixels come from this chain's own image transforms and the
    /// detections from the same post-processing, so the results equal <see cref="Transform"/>'s; the predictions
    /// (not the pixels) are held in memory, and the input is read once, here.
    /// </summary>
    /// <param name="input">Data with the image path column the detector was built for.</param>
    /// <param name="batchSize">Images per ONNX Runtime call.</param>
    public IDataView ScoreBatched(IDataView input, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ThrowIfDisposed();
        return BatchedDetectionScorer.Score(Chain, _session.Value, Metadata, input, batchSize);
    }

    private protected override void DisposeSessions()
    {
        if (_session.IsValueCreated) _session.Value.Dispose();
    }

    /// <summary>The shapes of the three prediction columns, for estimators' <c>GetOutputSchema</c>.</summary>
    public static IEnumerable<SchemaShape.Column> OutputColumnsShape()
    {
        var schema = SchemaDefinition.Create(typeof(PredictionRow));
        schema[nameof(PredictionRow.PredictedLabels)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 1));
        var view = new MLContext().Data.LoadFromEnumerable(Array.Empty<PredictionRow>(), schema);
        return Transforms.Internal.SchemaShapes.Create(view.Schema);
    }

    private sealed class PredictionRow
    {
        public float[] PredictedBoxes = [];
        public uint[] PredictedLabels = [];
        public float[] Scores = [];
    }

    private sealed class ClassNameRow { public string Name = ""; }
}
