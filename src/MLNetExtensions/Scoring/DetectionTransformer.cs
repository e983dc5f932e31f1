using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// A trained detector as an ML.NET transformer: reads the image path column and adds <c>PredictedBoxes</c> (N×4 pixels
/// of the original image), <c>PredictedLabels</c> (keys whose values are the class names), <c>Scores</c> and
/// <c>PredictedLabelNames</c> (the class names as text). Read them with <see cref="DetectionPrediction"/>.
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
    private readonly PerThreadPredictionEngine<DetectionPrediction> _engines;

    private DetectionTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain, string imagePathColumn, ScoringDevice device)
        : base(onnxModel, metadata, chain, imagePathColumn, device)
    {
        _session = new Lazy<InferenceSession>(() => device.CreateSession(onnxModel), LazyThreadSafetyMode.ExecutionAndPublication);
        _engines = new PerThreadPredictionEngine<DetectionPrediction>(chain, ImagePathColumn);
    }

    /// <summary>Builds the scoring chain for an exported detector.</summary>
    /// <param name="mlContext">The context.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="imagePathColumn">The input column holding image paths.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, string imagePathColumn = DetectionColumns.ImagePath)
        => Create(mlContext, onnxModel, ScoringOptions.ForColumn(imagePathColumn));

    /// <summary>Builds the scoring chain for an exported detector, with the image column and device of <paramref name="options"/>.</summary>
    /// <param name="mlContext">The context; a GPU fallback is logged to its <c>Log</c>.</param>
    /// <param name="onnxModel">An ONNX detector written by this library (metadata kind Detection).</param>
    /// <param name="options">Image column and device.</param>
    public static DetectionTransformer Create(MLContext mlContext, byte[] onnxModel, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        var metadata = ReadMetadata(onnxModel, OnnxModelKind.Detection, "detector");
        if (metadata.Extra.ContainsKey(DetectionPostProcessingExport.LayoutKey))
            throw new InvalidDataException("The ONNX model is a detector exported with its post-processing in the graph (ExportOnnx(path, options)), for other runtimes; ML.NET scoring needs the network as ExportOnnx(path) writes it.");
        var device = ScoringDevice.Resolve(mlContext, onnxModel, options);
        var classNames = metadata.ClassNames;
        string imagePathColumn = options.ImagePathColumnOr(DetectionColumns.ImagePath);
        // A classic R-CNN's network also takes the image's selective search proposals, made before it (RcnnProposalMapping).
        bool rcnn = IsRcnn(metadata);
        IEstimator<ITransformer>[]? proposals = null;
        Dictionary<string, int[]>? extraInputs = null;
        if (rcnn)
        {
            var settings = RcnnProposalMapping.FromMetadata(metadata);
            var input = new NetworkInput(metadata.InputWidth, metadata.InputHeight, metadata.InputChannels == 1);
            proposals =
            [
                mlContext.Transforms.ApplyOnnxModel([ScoringColumns.RcnnSearch], [ScoringColumns.OnnxPixels], new MemoryStream(RcnnProposalMapping.SettingsGraph(settings, input)),
                    new Dictionary<string, int[]> { [ScoringColumns.OnnxPixels] = input.OnnxShape }, gpuDeviceId: null, fallbackToCpu: true),
                mlContext.Transforms.CustomMapping(new RcnnProposalMapping().GetMapping(), RcnnProposalMapping.ContractName),
            ];
            extraInputs = new() { [ScoringColumns.OnnxProposals] = [RcnnProposalMapping.MaxProposals, 4] };
        }
        var chain = BuildChain(mlContext, onnxModel, metadata, imagePathColumn, device,
            [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess],
            [
                mlContext.Transforms.CustomMapping(new DetectionOutputMapping().GetMapping(), DetectionOutputMapping.ContractName),
                mlContext.Transforms.Conversion.MapValue(DetectionColumns.PredictedLabelNames,
                    classNames.Select((n, i) => new KeyValuePair<uint, string>((uint)(i + 1), n)), ScoringColumns.LabelIndices),
                mlContext.Transforms.Conversion.MapValueToKey(DetectionColumns.PredictedLabels, DetectionColumns.PredictedLabelNames,
                    keyData: mlContext.Data.LoadFromEnumerable(classNames.Select(n => new ClassNameRow { Name = n }))),
            ],
            rcnn ? [ScoringColumns.LabelIndices, ScoringColumns.RcnnSearch] : [ScoringColumns.LabelIndices], proposals, extraInputs);
        return new DetectionTransformer(onnxModel, metadata, chain, imagePathColumn, device);
    }

    /// <summary>Whether the network is a classic R-CNN's (its input includes the proposals).</summary>
    internal static bool IsRcnn(OnnxModelMetadata metadata) => metadata.Extra.TryGetValue("architecture", out var a) && a == "Rcnn";

    private void ThrowIfRcnn(string what)
    {
        if (IsRcnn(Metadata))
            throw new NotSupportedException($"{what} runs the network on the pixels alone; an R-CNN's network also takes the image's selective search proposals. Score it with Transform (or Detect).");
    }

    /// <summary>Loads a detector saved with <c>mlContext.Model.Save</c> (of this transformer or its <see cref="OnnxScoringTransformer.Chain"/>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path) => Load(mlContext, path, ScoringOptions.Default);

    /// <summary>
    /// Loads a detector saved with <c>mlContext.Model.Save</c> to run on the device of <paramref name="options"/>
    /// (the saved chain is rebuilt from its ONNX network for a GPU or another image column).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is truncated, not a saved model, or holds no detector.</exception>
    public static DetectionTransformer Load(MLContext mlContext, string path, ScoringOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (onnx, metadata, chain, savedInput) = LoadSaved(mlContext, path, OnnxModelKind.Detection, "detector", nameof(DetectionTransformer));
        string savedColumn = SavedImagePathColumn(chain, savedInput, DetectionColumns.ImagePath);
        return RebuildOptions(options, savedColumn) is { } rebuild
            ? Create(mlContext, onnx, rebuild)
            : new DetectionTransformer(onnx, metadata, chain, savedColumn, ScoringDevice.Cpu);
    }

    /// <summary>
    /// Detects the objects in one image file: a <c>PredictionEngine&lt;ImageInput, DetectionPrediction&gt;</c> of this
    /// transformer, one per calling thread, so it may be called from several threads at once.
    /// </summary>
    /// <exception cref="FileNotFoundException">The image does not exist.</exception>
    public DetectionPrediction Detect(string imagePath)
    {
        return WhileInUse(() => _engines.Predict(imagePath));
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
        ThrowIfRcnn(nameof(ScoreBatched));
        return WhileInUse(() => BatchedDetectionScorer.Score(Chain, _session.Value, Metadata, input, ImagePathColumn, batchSize));
    }

    /// <summary>
    /// Writes a self-contained ONNX detector for other runtimes (ONNX Runtime in Python or C#, engines such as
    /// SynapseML's <c>ONNXModel</c>): this network with the scoring chain's post-processing in the graph (score
    /// threshold, class-aware <c>NonMaxSuppression</c>, the best detections, boxes in pixels), so that it returns
    /// <c>boxes</c>, <c>labels</c> (0-based indices into the metadata's class names) and <c>scores</c> as
    /// <c>Transform</c>'s <c>PredictedBoxes</c>, <c>PredictedLabels</c> and <c>Scores</c> (docs/deploy.md).
    /// Its input is the same raw pixels (N, C, H, W) in [0, 255] (<see cref="ScoringColumns.OnnxPixels"/>; size and
    /// channels in the metadata); with <see cref="ExportedBoxCoordinates.OriginalImage"/> also
    /// <see cref="ScoringColumns.ExportedOriginalSize"/>. The settings used are written to the metadata
    /// (<c>postprocess.*</c>). Written atomically. <see cref="Create(MLContext, byte[], string)"/> does not read such a file;
    /// keep the one of <see cref="OnnxScoringTransformer.ExportOnnx(string)"/> for ML.NET.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="options">Thresholds (the model's own when unset), box coordinates and output layout.</param>
    public void ExportOnnx(string path, DetectionOnnxExportOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfRcnn("ExportOnnx with post-processing");
        WhileInUse(() =>
        {
            WriteAtomically(path, DetectionPostProcessingExport.Build(OnnxModel, options, PostProcessSettings()));
            return true;
        });
    }

    /// <summary>
    /// The settings the network hands the chain's mapping (<see cref="ScoringColumns.OnnxPostProcess"/>), which a
    /// graph may compute: read by running it once on a black image.
    /// </summary>
    private DetectionPostProcessingExport.Settings PostProcessSettings()
    {
        var pixels = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>([1, Metadata.InputChannels, Metadata.InputHeight, Metadata.InputWidth]);
        using var results = _session.Value.Run([NamedOnnxValue.CreateFromTensor(ScoringColumns.OnnxPixels, pixels)], [ScoringColumns.OnnxPostProcess]);
        var values = results.First().AsEnumerable<float>().ToArray();
        if (values.Length < 3)
            throw new InvalidDataException($"The detector's '{ScoringColumns.OnnxPostProcess}' output has {values.Length} values; expected 3 (score threshold, IoU threshold, max detections).");
        return new DetectionPostProcessingExport.Settings(values[0], values[1], (int)values[2]);
    }

    private protected override void DisposeSessions()
    {
        _engines.Dispose();
        if (_session.IsValueCreated) _session.Value.Dispose();
    }

    /// <summary>The shapes of the four prediction columns, for estimators' <c>GetOutputSchema</c>.</summary>
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
        public string[] PredictedLabelNames = [];
    }

    private sealed class ClassNameRow { public string Name = ""; }
}
