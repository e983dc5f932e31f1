using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Weights;

/// <summary>What <see cref="SafetensorsWeights.LoadInto"/> did.</summary>
/// <param name="LoadedKeys">Module keys whose values came from the file.</param>
/// <param name="SkippedKeys">File keys skipped by <see cref="WeightLoadOptions.IgnoredPrefixes"/>.</param>
/// <param name="MissingKeys">Module keys the file lacks (allowed by the options), which kept their values.</param>
public sealed record WeightLoadReport(IReadOnlyList<string> LoadedKeys, IReadOnlyList<string> SkippedKeys, IReadOnlyList<string> MissingKeys);

/// <summary>
/// Loads a module's weights from, and saves them to, <c>.safetensors</c> files keyed by state_dict names, so weights
/// exported from torchvision (<c>safetensors.torch.save_file(model.state_dict(), path)</c>) load into the backbones
/// of <see cref="Backbones"/> whose keys are torchvision's.
/// </summary>
public static class SafetensorsWeights
{
    /// <summary>
    /// Copies every tensor of the file at <paramref name="path"/> into the state_dict entry of the same key of
    /// <paramref name="module"/> (converted to that entry's dtype and device). Nothing is copied unless all keys and
    /// shapes fit.
    /// </summary>
    /// <exception cref="WeightLoadException">Keys are missing (and not allowed to be), unexpected (and not ignored), or shapes differ; the message names the file and the first keys.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static WeightLoadReport LoadInto(nn.Module module, string path, WeightLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        TorchRuntime.EnsureLoaded();
        var file = SafetensorsFile.Open(path);
        return Copy(module, file.Path, file.Entries.ToDictionary(e => e.Key, e => e.Value.Shape, StringComparer.Ordinal), file.ReadTensor, options);
    }

    /// <summary>
    /// What <see cref="LoadInto"/> does for any source of named tensors (<paramref name="shapes"/>, read one by one with
    /// <paramref name="read"/>, each result disposed here): all keys and shapes checked before anything is copied.
    /// </summary>
    internal static WeightLoadReport Copy(nn.Module module, string path, IReadOnlyDictionary<string, long[]> shapes, Func<string, Tensor> read, WeightLoadOptions? options)
    {
        options ??= new WeightLoadOptions();
        var state = module.state_dict();

        var skipped = new List<string>();
        var unexpected = new List<string>();
        var shapeMismatches = new List<string>();
        var toLoad = new List<string>();
        foreach (var (key, shape) in shapes.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!state.TryGetValue(key, out var target))
            {
                if (options.IgnoredPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal))) skipped.Add(key);
                else unexpected.Add(key);
                continue;
            }
            if (!shape.SequenceEqual(target.shape))
            {
                shapeMismatches.Add($"{key}: file [{string.Join(", ", shape)}] vs module [{string.Join(", ", target.shape)}]");
                continue;
            }
            toLoad.Add(key);
        }
        var missing = state.Keys.Where(k => !shapes.ContainsKey(k)).ToList();
        var notAllowed = options.AllowMissing
            ? []
            : missing.Where(k => !options.AllowedMissingSuffixes.Any(s => k.EndsWith(s, StringComparison.Ordinal))).ToList();
        if (notAllowed.Count > 0 || unexpected.Count > 0 || shapeMismatches.Count > 0)
            throw new WeightLoadException(path, notAllowed, unexpected, shapeMismatches);

        using (torch.no_grad())
        {
            foreach (var key in toLoad)
            {
                using var scope = torch.NewDisposeScope();
                var target = state[key];
                using var value = read(key);
                target.copy_(value.to(target.dtype, target.device));
            }
        }
        return new WeightLoadReport(toLoad, skipped, missing);
    }

    /// <summary>Writes <paramref name="module"/>'s state_dict to <paramref name="path"/> (float32; integer buffers as I64).</summary>
    public static void Save(nn.Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        TorchRuntime.EnsureLoaded();
        SafetensorsFile.Save(module.state_dict(), path, metadata);
    }
}
