namespace MLNetExtensions.Torch.Weights;

/// <summary>
/// A weight file does not fit a module: keys the module needs are missing, keys the file has are unknown to the
/// module, or shapes differ. All three lists are filled, and the message names the file and the first keys of each.
/// </summary>
public sealed class WeightLoadException : Exception
{
    private const int Shown = 5;

    /// <summary>Creates the exception from the three lists; the message is built from them.</summary>
    public WeightLoadException(string path, IReadOnlyList<string> missingKeys, IReadOnlyList<string> unexpectedKeys, IReadOnlyList<string> shapeMismatches)
        : base(BuildMessage(path, missingKeys, unexpectedKeys, shapeMismatches))
    {
        Path = path;
        MissingKeys = missingKeys;
        UnexpectedKeys = unexpectedKeys;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>The weight file.</summary>
    public string Path { get; }

    /// <summary>Module keys the file lacks.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>File keys the module lacks (after the ignored prefixes).</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys present in both with different shapes, as <c>key: file [..] vs module [..]</c>.</summary>
    public IReadOnlyList<string> ShapeMismatches { get; }

    private static string BuildMessage(string path, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> shapes)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"{missing.Count} missing key(s) ({List(missing)})");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected key(s) ({List(unexpected)})");
        if (shapes.Count > 0) parts.Add($"{shapes.Count} shape mismatch(es) ({List(shapes)})");
        return $"The weights in '{path}' do not fit the module: {string.Join("; ", parts)}. " +
               "Check that the file was saved from the same architecture and width (torchvision key names), " +
               "skip extra heads with WeightLoadOptions.IgnoredPrefixes (e.g. \"fc.\"), or set AllowMissing to keep the module's own values for keys the file lacks.";
    }

    private static string List(IReadOnlyList<string> keys) =>
        string.Join(", ", keys.Take(Shown)) + (keys.Count > Shown ? $", … {keys.Count - Shown} more" : "");
}
