using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetExtensions.Data;

/// <summary>
/// Reaches the <see cref="IHostEnvironment"/> behind <c>mlContext.Data</c>, so loaders added as extension methods
/// can log to <c>MLContext.Log</c> like ML.NET's own loaders. ML.NET exposes it only to its own assemblies
/// (the internal <c>IInternalCatalog.Environment</c>), hence reflection; without it, logging is skipped.
/// </summary>
internal static class CatalogEnvironment
{
    private static readonly PropertyInfo? EnvironmentProperty = typeof(DataOperationsCatalog)
        .GetProperty("Microsoft.ML.Data.IInternalCatalog.Environment", BindingFlags.Instance | BindingFlags.NonPublic);

    public static IHostEnvironment? TryGet(DataOperationsCatalog catalog)
        => EnvironmentProperty?.GetValue(catalog) as IHostEnvironment;

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
