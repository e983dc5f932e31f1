using System.Globalization;
using System.Text.Json;
using MLNetExtensions.Onnx.Proto;

namespace MLNetExtensions.Onnx;

/// <summary>
/// What a scorer needs to know about an exported model beyond its graph: the kind of model, the class names, the
/// input image size and channels, the pixel normalization, and the decision thresholds. Stored as ONNX
/// <c>metadata_props</c> under keys starting with <see cref="KeyPrefix"/> (ONNX Runtime shows them as the model's
/// custom metadata), with lists as JSON arrays and numbers in invariant culture.
/// </summary>
public sealed class OnnxModelMetadata
{
    /// <summary>The format version this library writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Prefix of every key this class writes.</summary>
    public const string KeyPrefix = "mlnetext.";

    internal const string FormatVersionKey = KeyPrefix + "format_version";
    internal const string KindKey = KeyPrefix + "model_kind";
    internal const string ClassNamesKey = KeyPrefix + "class_names";
    internal const string InputChannelsKey = KeyPrefix + "input_channels";
    internal const string InputHeightKey = KeyPrefix + "input_height";
    internal const string InputWidthKey = KeyPrefix + "input_width";
    internal const string MeanKey = KeyPrefix + "mean";
    internal const string StdKey = KeyPrefix + "std";
    internal const string ScoreThresholdKey = KeyPrefix + "score_threshold";
    internal const string IouThresholdKey = KeyPrefix + "iou_threshold";

    /// <summary>Describes a model; every argument is checked here.</summary>
    /// <param name="kind">What the model computes.</param>
    /// <param name="classNames">Class names in output order; not empty, no blanks, no duplicates.</param>
    /// <param name="inputChannels">Channels of the input image (3 for RGB).</param>
    /// <param name="inputHeight">Height in pixels the model expects.</param>
    /// <param name="inputWidth">Width in pixels the model expects.</param>
    /// <param name="mean">Per-channel mean subtracted from pixels scaled to [0, 1]; null for none.</param>
    /// <param name="std">Per-channel standard deviation the centred pixels are divided by; given together with <paramref name="mean"/>.</param>
    /// <param name="scoreThreshold">Detection/segmentation score below which a result is dropped, in [0, 1]; null for none.</param>
    /// <param name="iouThreshold">Non-maximum suppression IoU threshold, in [0, 1]; null for none.</param>
    /// <param name="extra">Other string properties to keep with the model; keys must not start with <see cref="KeyPrefix"/>.</param>
    /// <exception cref="ArgumentException">An argument is out of range; the message names it.</exception>
    public OnnxModelMetadata(
        OnnxModelKind kind,
        IReadOnlyList<string> classNames,
        int inputChannels,
        int inputHeight,
        int inputWidth,
        IReadOnlyList<float>? mean = null,
        IReadOnlyList<float>? std = null,
        float? scoreThreshold = null,
        float? iouThreshold = null,
        IReadOnlyDictionary<string, string>? extra = null)
        : this(kind, classNames, inputChannels, inputHeight, inputWidth, mean, std, scoreThreshold, iouThreshold, extra, CurrentFormatVersion)
    {
    }

    private OnnxModelMetadata(OnnxModelKind kind, IReadOnlyList<string> classNames, int inputChannels, int inputHeight, int inputWidth,
        IReadOnlyList<float>? mean, IReadOnlyList<float>? std, float? scoreThreshold, float? iouThreshold,
        IReadOnlyDictionary<string, string>? extra, int formatVersion)
    {
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind.");
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count == 0)
            throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(classNames[i]))
                throw new ArgumentException($"Class name {i} is empty.", nameof(classNames));
            if (!seen.Add(classNames[i]))
                throw new ArgumentException($"Class name '{classNames[i]}' appears twice.", nameof(classNames));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputWidth, 1);
        if ((mean == null) != (std == null))
            throw new ArgumentException("Give both mean and std, or neither.", mean == null ? nameof(mean) : nameof(std));
        if (mean != null && std != null)
        {
            if (mean.Count != inputChannels || std.Count != inputChannels)
                throw new ArgumentException($"mean and std need one value per input channel ({inputChannels}), but have {mean.Count} and {std.Count}.", nameof(mean));
            if (mean.Any(m => !float.IsFinite(m)))
                throw new ArgumentException($"mean must be finite, but is ({Join(mean)}).", nameof(mean));
            if (std.Any(s => !float.IsFinite(s) || s <= 0))
                throw new ArgumentException($"std must be finite and positive, but is ({Join(std)}).", nameof(std));
        }
        CheckProbability(scoreThreshold, nameof(scoreThreshold));
        CheckProbability(iouThreshold, nameof(iouThreshold));
        var extraCopy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            if (string.IsNullOrWhiteSpace(key) || key.StartsWith(KeyPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"Extra property key '{key}' must be non-empty and must not start with '{KeyPrefix}'.", nameof(extra));
            extraCopy[key] = value ?? throw new ArgumentException($"Extra property '{key}' has a null value.", nameof(extra));
        }

        Kind = kind;
        ClassNames = classNames.ToArray();
        InputChannels = inputChannels;
        InputHeight = inputHeight;
        InputWidth = inputWidth;
        Mean = mean?.ToArray();
        Std = std?.ToArray();
        ScoreThreshold = scoreThreshold;
        IouThreshold = iouThreshold;
        Extra = extraCopy;
        FormatVersion = formatVersion;
    }

    /// <summary>What the model computes.</summary>
    public OnnxModelKind Kind { get; }
    /// <summary>Class names in the order of the model's class outputs.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Channels of the input image.</summary>
    public int InputChannels { get; }
    /// <summary>Input height in pixels.</summary>
    public int InputHeight { get; }
    /// <summary>Input width in pixels.</summary>
    public int InputWidth { get; }

    /// <summary>Per-channel mean for pixels scaled to [0, 1], or null when the model takes unnormalized pixels.</summary>
    public IReadOnlyList<float>? Mean { get; }

    /// <summary>Per-channel standard deviation matching <see cref="Mean"/>.</summary>
    public IReadOnlyList<float>? Std { get; }

    /// <summary>Score below which results are dropped, or null.</summary>
    public float? ScoreThreshold { get; }
    /// <summary>Non-maximum suppression IoU threshold, or null.</summary>
    public float? IouThreshold { get; }

    /// <summary>Other <c>metadata_props</c> entries, kept as they are.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; }

    /// <summary>The format version the properties were written with (<see cref="CurrentFormatVersion"/> for new metadata).</summary>
    public int FormatVersion { get; }

    /// <summary>The <c>metadata_props</c> entries describing this metadata, <see cref="Extra"/> included.</summary>
    public IReadOnlyDictionary<string, string> ToProperties()
    {
        var p = new Dictionary<string, string>(Extra, StringComparer.Ordinal)
        {
            [FormatVersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [KindKey] = Kind.ToString().ToLowerInvariant(),
            [ClassNamesKey] = JsonSerializer.Serialize(ClassNames),
            [InputChannelsKey] = InputChannels.ToString(CultureInfo.InvariantCulture),
            [InputHeightKey] = InputHeight.ToString(CultureInfo.InvariantCulture),
            [InputWidthKey] = InputWidth.ToString(CultureInfo.InvariantCulture),
        };
        if (Mean != null) p[MeanKey] = JsonSerializer.Serialize(Mean);
        if (Std != null) p[StdKey] = JsonSerializer.Serialize(Std);
        if (ScoreThreshold is { } score) p[ScoreThresholdKey] = score.ToString("R", CultureInfo.InvariantCulture);
        if (IouThreshold is { } iou) p[IouThresholdKey] = iou.ToString("R", CultureInfo.InvariantCulture);
        return p;
    }

    /// <summary>
    /// Reads metadata back from <c>metadata_props</c> entries (e.g. ONNX Runtime's
    /// <c>InferenceSession.ModelMetadata.CustomMetadataMap</c>); keys without <see cref="KeyPrefix"/> become <see cref="Extra"/>.
    /// </summary>
    /// <param name="properties">The entries.</param>
    /// <param name="source">Named in error messages, e.g. the model's path.</param>
    /// <exception cref="InvalidDataException">An entry is missing or malformed, or the format is newer than this library.</exception>
    public static OnnxModelMetadata FromProperties(IReadOnlyDictionary<string, string> properties, string source = "the model")
    {
        ArgumentNullException.ThrowIfNull(properties);
        ArgumentNullException.ThrowIfNull(source);
        if (!properties.TryGetValue(FormatVersionKey, out var versionText))
            throw new InvalidDataException($"'{source}' has no '{FormatVersionKey}' metadata property, so it was not exported by MLNetExtensions. Export it with OnnxExporter (MLNetExtensions.Torch) or give its metadata in code.");
        if (!int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
            throw new InvalidDataException($"'{source}': metadata '{FormatVersionKey}' is '{versionText}', which is not a positive integer.");
        if (version > CurrentFormatVersion)
            throw new InvalidDataException($"'{source}' was written with metadata format {version}, but this version of MLNetExtensions reads formats up to {CurrentFormatVersion}. Update MLNetExtensions.");

        var kindText = Required(properties, KindKey, source);
        var kinds = Enum.GetValues<OnnxModelKind>().Where(k => k.ToString().Equals(kindText, StringComparison.OrdinalIgnoreCase)).ToArray();
        if (kinds.Length != 1)
            throw new InvalidDataException($"'{source}': metadata '{KindKey}' is '{kindText}'; expected one of {string.Join(", ", Enum.GetNames<OnnxModelKind>().Select(n => n.ToLowerInvariant()))}.");
        var classNames = Json<string[]>(properties, ClassNamesKey, source, required: true)!;
        int channels = PositiveInt(properties, InputChannelsKey, source);
        int height = PositiveInt(properties, InputHeightKey, source);
        int width = PositiveInt(properties, InputWidthKey, source);
        var mean = Json<float[]>(properties, MeanKey, source, required: false);
        var std = Json<float[]>(properties, StdKey, source, required: false);
        var score = OptionalFloat(properties, ScoreThresholdKey, source);
        var iou = OptionalFloat(properties, IouThresholdKey, source);
        var extra = properties.Where(p => !p.Key.StartsWith(KeyPrefix, StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        try
        {
            return new OnnxModelMetadata(kinds[0], classNames, channels, height, width, mean, std, score, iou, extra, version);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"'{source}': its metadata is inconsistent: {ex.Message}", ex);
        }
    }

    /// <summary>Reads the metadata of the ONNX model file at <paramref name="onnxPath"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or its metadata is missing or malformed.</exception>
    public static OnnxModelMetadata Read(string onnxPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxPath);
        if (!File.Exists(onnxPath))
            throw new FileNotFoundException($"ONNX model '{onnxPath}' does not exist.", onnxPath);
        using var stream = File.OpenRead(onnxPath);
        return Read(stream, onnxPath);
    }

    /// <summary>Reads the metadata of the ONNX model in <paramref name="onnx"/>; <paramref name="source"/> is named in errors.</summary>
    /// <exception cref="InvalidDataException">The stream is not an ONNX model, or its metadata is missing or malformed.</exception>
    public static OnnxModelMetadata Read(Stream onnx, string source = "the model")
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"'{source}' is not an ONNX model: {ex.Message}", ex);
        }
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps)
            properties[entry.Key] = entry.Value;
        return FromProperties(properties, source);
    }

    private static void CheckProbability(float? value, string name)
    {
        if (value is { } v && !(v >= 0 && v <= 1))
            throw new ArgumentOutOfRangeException(name, v, $"{name} must be in [0, 1].");
    }

    private static string Join(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));

    private static string Required(IReadOnlyDictionary<string, string> p, string key, string source) =>
        p.TryGetValue(key, out var value) ? value : throw new InvalidDataException($"'{source}' has no '{key}' metadata property; it is required by format {CurrentFormatVersion}.");

    private static int PositiveInt(IReadOnlyDictionary<string, string> p, string key, string source)
    {
        var text = Required(p, key, source);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1)
            throw new InvalidDataException($"'{source}': metadata '{key}' is '{text}', which is not a positive integer.");
        return value;
    }

    private static float? OptionalFloat(IReadOnlyDictionary<string, string> p, string key, string source)
    {
        if (!p.TryGetValue(key, out var text)) return null;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            throw new InvalidDataException($"'{source}': metadata '{key}' is '{text}', which is not a number.");
        return value;
    }

    private static T? Json<T>(IReadOnlyDictionary<string, string> p, string key, string source, bool required) where T : class
    {
        if (!p.TryGetValue(key, out var text))
            return required ? throw new InvalidDataException($"'{source}' has no '{key}' metadata property; it is required by format {CurrentFormatVersion}.") : null;
        try
        {
            return JsonSerializer.Deserialize<T>(text) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{source}': metadata '{key}' is '{text}', which is not a JSON array of {(typeof(T) == typeof(string[]) ? "strings" : "numbers")}.", ex);
        }
    }
}
