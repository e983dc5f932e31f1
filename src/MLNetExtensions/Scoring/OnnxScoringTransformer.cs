using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// What every trained model of this library is at scoring time: an ONNX network written by this library and the ML.NET
/// chain that runs it (image path → image size → the shared pixel pipeline → <c>ApplyOnnxModel</c> → the family's
/// stateless post-processing). The chain is made of public ML.NET pieces, so <c>mlContext.Model.Save</c> writes it and
/// <c>mlContext.Model.Load</c> in any process gives it back; the derived types' <c>Load</c> re-wraps it. Scoring needs
/// neither TorchSharp nor libtorch.
/// </summary>
/// <remarks>
/// <b>Threads.</b> <c>Transform</c> and <c>GetOutputSchema</c> may be called from any number of threads at once, and
/// the views they return may be read from several threads at once (each cursor on one thread): the chain holds no
/// per-row state, and ONNX Runtime's session runs concurrent calls. A <c>PredictionEngine</c> is not thread-safe:
/// create one per thread (or use <c>PredictionEnginePool</c> in ASP.NET); the one-call helpers
/// (<see cref="DetectionTransformer.Detect"/>, <see cref="SegmentationTransformer.Segment"/>) keep one per calling thread.
/// </remarks>
public abstract class OnnxScoringTransformer : ITransformer, ICanSaveModel, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    private bool _disposed;
    private readonly object _gate = new();
    private int _inUse;   // calls of Detect, Segment and ScoreBatched running now

    private protected OnnxScoringTransformer(byte[] onnxModel, OnnxModelMetadata metadata, TransformerChain<ITransformer> chain, string imagePathColumn, ScoringDevice device)
    {
        OnnxModel = onnxModel;
        Metadata = metadata;
        _chain = chain;
        ImagePathColumn = imagePathColumn;
        Device = device;
    }

    /// <summary>The input column of image paths this transformer reads.</summary>
    public string ImagePathColumn { get; }

    /// <summary>Where the network runs: <c>CPU</c>, or <c>CUDA:n</c> for <see cref="ScoringOptions.GpuDeviceId"/> n.</summary>
    public string ExecutionDevice => Device.Name;

    /// <summary>
    /// Why a requested GPU is not used (the CUDA session could not be made, and <see cref="ScoringOptions.FallbackToCpu"/>
    /// scored on the CPU instead; the same text went to the <c>MLContext</c>'s log); <see langword="null"/> otherwise.
    /// </summary>
    public string? GpuFallbackReason => Device.FallbackReason;

    private protected ScoringDevice Device { get; }

    /// <summary>The exported network, as written by <see cref="ExportOnnx(string)"/>.</summary>
    public byte[] OnnxModel { get; }

    /// <summary>What the network was trained for: model kind, classes, input size, normalisation, thresholds.</summary>
    public OnnxModelMetadata Metadata { get; }

    /// <summary>Class names, in the order of the network's outputs.</summary>
    public IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>The ML.NET chain that does the work; what <c>mlContext.Model.Save</c> writes.</summary>
    public TransformerChain<ITransformer> Chain => _chain;

    public bool IsRowToRowMapper => true;

    /// <summary>
    /// Makes this library's <c>CustomMapping</c>s (image size, detection and segmentation outputs) known to
    /// <paramref name="mlContext"/>, which <c>mlContext.Model.Load</c> of a saved model needs in a process that has not
    /// built one. The derived types' <c>Load</c> calls it; call it yourself before loading with <c>mlContext.Model.Load</c> directly.
    /// </summary>
    public static void RegisterComponents(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(OnnxScoringTransformer).Assembly);
    }

    /// <summary>Writes the standalone ONNX network for other runtimes (atomically: a temporary file renamed into place).</summary>
    public void ExportOnnx(string path) => WriteAtomically(path, OnnxModel);

    /// <summary>Writes <paramref name="bytes"/> to a temporary file next to <paramref name="path"/>, then renames it into place.</summary>
    private protected static void WriteAtomically(string path, byte[] bytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);
    /// <summary>Scores <paramref name="input"/> lazily, as ML.NET's transformers do. Reading a row whose image file is
    /// missing throws <see cref="FileNotFoundException"/> naming the file and its row.</summary>
    public IDataView Transform(IDataView input) => new MissingImageDataView(_chain.Transform(input), input, ImagePathColumn);

    // Saving writes the inner chain: ML.NET's loader then returns a TransformerChain, which Load re-wraps.
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    /// <summary>
    /// Releases the ONNX Runtime sessions of the chain and any the derived type holds. Calls of <c>Detect</c>,
    /// <c>Segment</c> and <c>ScoreBatched</c> running on other threads finish first (Dispose waits for them); calls made
    /// after it throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            while (_inUse > 0) Monitor.Wait(_gate);
        }
        DisposeSessions();
        (_chain as IDisposable)?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Calls of <c>Detect</c>, <c>Segment</c> and <c>ScoreBatched</c> running now (tests wait on it).</summary>
    internal int CallsInFlight { get { lock (_gate) return _inUse; } }

    /// <summary>Releases what the derived type holds besides the chain.</summary>
    private protected virtual void DisposeSessions() { }


    /// <summary>Runs <paramref name="score"/> with the sessions held: <see cref="Dispose"/> waits until it returns, and
    /// throws <see cref="ObjectDisposedException"/> when the transformer is already disposed.</summary>
    private protected T WhileInUse<T>(Func<T> score)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _inUse++;
        }
        try
        {
            return score();
        }
        finally
        {
            lock (_gate)
            {
                if (--_inUse == 0) Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>The metadata of <paramref name="onnxModel"/>, which must be a model of <paramref name="kind"/>.</summary>
    private protected static OnnxModelMetadata ReadMetadata(byte[] onnxModel, OnnxModelKind kind, string what)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        var metadata = OnnxModelMetadata.Read(new MemoryStream(onnxModel), $"the {what}");
        if (metadata.Kind != kind)
            throw new InvalidDataException($"The ONNX model is a {metadata.Kind} model; a {what} (kind {kind}) is needed.");
        return metadata;
    }

    /// <summary>
    /// The scoring chain: copy the image path to the chain's own column, record the original size, the pixel pipeline
    /// training used, the network in <c>ApplyOnnxModel</c> (batch 1), then <paramref name="postProcess"/>, then the
    /// working columns and <paramref name="dropAfter"/> dropped.
    /// </summary>
    /// <remarks><c>beforeNetwork</c>: steps between the pixels and the network that make its further inputs (an R-CNN's
    /// proposals); <c>extraInputs</c>: those inputs with their shapes.</remarks>
    private protected static TransformerChain<ITransformer> BuildChain(MLContext mlContext, byte[] onnxModel, OnnxModelMetadata metadata,
        string imagePathColumn, ScoringDevice device, string[] onnxOutputs, IEstimator<ITransformer>[] postProcess, string[] dropAfter,
        IEstimator<ITransformer>[]? beforeNetwork = null, IReadOnlyDictionary<string, int[]>? extraInputs = null)
    {
        var input = new NetworkInput(metadata.InputWidth, metadata.InputHeight, metadata.InputChannels == 1);
        RegisterComponents(mlContext);
        var shapes = new Dictionary<string, int[]> { [ScoringColumns.OnnxPixels] = input.OnnxShape };
        foreach (var (name, shape) in extraInputs ?? new Dictionary<string, int[]>()) shapes[name] = shape;
        IEstimator<ITransformer>[] steps =
        [
            mlContext.Transforms.CopyColumns(ScoringColumns.ImagePath, imagePathColumn),
            input.PixelPipeline(mlContext, ScoringColumns.ImagePath, ScoringColumns.OnnxPixels),
            .. beforeNetwork ?? [],
            mlContext.Transforms.ApplyOnnxModel(onnxOutputs, [.. shapes.Keys], new MemoryStream(onnxModel), shapes,
                gpuDeviceId: device.GpuDeviceId, fallbackToCpu: true),
            .. postProcess,
            mlContext.Transforms.DropColumns([ScoringColumns.ImagePath, ScoringColumns.PixelLayout, ScoringColumns.OriginalWidth,
                ScoringColumns.OriginalHeight, ScoringColumns.OnnxPixels, .. shapes.Keys.Skip(1), .. onnxOutputs, .. dropAfter]),
        ];
        var pipeline = new EstimatorChain<ITransformer>();
        foreach (var step in steps) pipeline = pipeline.Append<ITransformer>(step);
        var empty = mlContext.Data.LoadFromEnumerable(Array.Empty<PathRow>(), PathRow.Schema(imagePathColumn));
        return new TransformerChain<ITransformer>(pipeline.Fit(empty).ToArray());
    }

    /// <summary>
    /// The image path column a loaded chain reads: of the text columns of the schema saved with it, the one its first
    /// step (the copy of the image path) accepts; <paramref name="defaultColumn"/> when the model was saved without a schema.
    /// </summary>
    private protected static string SavedImagePathColumn(TransformerChain<ITransformer> chain, DataViewSchema? savedInput, string defaultColumn)
    {
        var first = chain.FirstOrDefault();
        if (first == null || savedInput == null) return defaultColumn;
        foreach (var column in savedInput.Where(c => !c.IsHidden && c.Type is TextDataViewType))
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumn(column.Name, TextDataViewType.Instance);
            try
            {
                first.GetOutputSchema(builder.ToSchema());
                return column.Name;
            }
            catch (ArgumentOutOfRangeException) { }
            catch (InvalidOperationException) { }
        }
        return defaultColumn;
    }

    /// <summary>
    /// The options to rebuild a loaded model with from its ONNX network (the same steps <c>Create</c> makes), or null when
    /// the saved chain serves <paramref name="options"/> as it is: it runs on the CPU and reads the column it was built for.
    /// </summary>
    private protected static ScoringOptions? RebuildOptions(ScoringOptions options, string savedColumn)
        => options.GpuDeviceId != null || (options.ImagePathColumn ?? savedColumn) != savedColumn
            ? options with { ImagePathColumn = options.ImagePathColumn ?? savedColumn }
            : null;

    /// <summary>
    /// Reads a model saved with <c>mlContext.Model.Save</c>: the ONNX network of <paramref name="kind"/> first (a
    /// truncated zip fails there, with a message of our own rather than one from deep inside ML.NET's loader), then the chain
    /// and the input schema saved with it.
    /// </summary>
    private protected static (byte[] Onnx, OnnxModelMetadata Metadata, TransformerChain<ITransformer> Chain, DataViewSchema? InputSchema) LoadSaved(MLContext mlContext, string path,
        OnnxModelKind kind, string what, string typeName)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        // A chain may hold helper graphs without model metadata (an R-CNN's settings graph); the model is the one of that kind.
        var onnx = SavedOnnxModels.Read(path).FirstOrDefault(b => KindOf(b, path) == kind)
            ?? throw new InvalidDataException($"The model file '{path}' holds no {what} ONNX model. Save a {typeName} (or its Chain) with mlContext.Model.Save.");
        RegisterComponents(mlContext);
        ITransformer loaded;
        DataViewSchema? inputSchema;
        try
        {
            loaded = mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or InvalidOperationException)
        {
            throw new InvalidDataException($"The model file '{path}' cannot be read ({ex.Message}). It is damaged or not a model saved by mlContext.Model.Save; save it again.", ex);
        }
        if (loaded is not TransformerChain<ITransformer> chain)
            throw new InvalidDataException($"The model file '{path}' holds a {loaded.GetType().Name}, not a {what}'s transformer chain.");
        return (onnx, OnnxModelMetadata.Read(new MemoryStream(onnx), path), chain, inputSchema);
    }

    /// <summary>The kind of an ONNX model of the zip, or null for a graph without this library's metadata.</summary>
    private static OnnxModelKind? KindOf(byte[] onnx, string path)
    {
        try { return OnnxModelMetadata.Read(new MemoryStream(onnx), path).Kind; }
        catch (InvalidDataException) { return null; }
    }

    private sealed class PathRow
    {
        public string ImagePath = "";
        public static SchemaDefinition Schema(string column)
        {
            var s = SchemaDefinition.Create(typeof(PathRow));
            s[0].ColumnName = column;
            return s;
        }
    }
}
