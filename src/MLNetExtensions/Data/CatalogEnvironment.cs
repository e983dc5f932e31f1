using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Data;

/// <summary>
/// Reaches the <see cref="IHostEnvironment"/> behind <c>mlContext.Data</c> or <c>mlContext.Transforms</c>, so loaders
/// and trainers added as extension methods can log to <c>MLContext.Log</c> like ML.NET's own. ML.NET exposes it only to its own assemblies
/// (the internal <c>IInternalCatalog.Environment</c>), hence reflection; without it, logging is skipped.
/// </summary>
internal static class CatalogEnvironment
{
    private const string PropertyName = "Microsoft.ML.Data.IInternalCatalog.Environment";

    private static readonly PropertyInfo? DataEnvironment = typeof(DataOperationsCatalog)
        .GetProperty(PropertyName, BindingFlags.Instance | BindingFlags.NonPublic);

    private static readonly PropertyInfo? TransformsEnvironment = typeof(TransformsCatalog)
        .GetProperty(PropertyName, BindingFlags.Instance | BindingFlags.NonPublic);

    public static IHostEnvironment? TryGet(DataOperationsCatalog catalog)
        => DataEnvironment?.GetValue(catalog) as IHostEnvironment;

    public static IHostEnvironment? TryGet(TransformsCatalog catalog)
        => TransformsEnvironment?.GetValue(catalog) as IHostEnvironment;

    /// <summary>Sends each warning to <c>MLContext.Log</c> as a warning from <paramref name="source"/>.</summary>
    public static void LogWarnings(DataOperationsCatalog catalog, string source, IEnumerable<string> warnings)
    {
        var env = TryGet(catalog);
        if (env == null) return;
        using var channel = env.Start(source);
        foreach (var w in warnings)
            channel.Warning(MessageSensitivity.None, "{0}", w);
    }
}
