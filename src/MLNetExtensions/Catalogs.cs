using Microsoft.ML;

namespace MLNetExtensions;

/// <summary>
/// Detection operations that are not transforms: evaluation and data helpers. Reached through
/// <c>mlContext.Detection()</c>; extension methods of this catalog live next to what they do.
/// </summary>
public sealed class DetectionCatalog
{
    internal DetectionCatalog(MLContext context) => Context = context;
    public MLContext Context { get; }
}

/// <summary>Segmentation operations that are not transforms, reached through <c>mlContext.Segmentation()</c>.</summary>
public sealed class SegmentationCatalog
{
    internal SegmentationCatalog(MLContext context) => Context = context;
    public MLContext Context { get; }
}

public static class MLContextExtensions
{
    /// <summary>Detection evaluation and data helpers.</summary>
    public static DetectionCatalog Detection(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new DetectionCatalog(mlContext);
    }

    /// <summary>Segmentation evaluation and data helpers.</summary>
    public static SegmentationCatalog Segmentation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SegmentationCatalog(mlContext);
    }
}
