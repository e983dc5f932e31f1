using MLNetExtensions.Data.Synthetic;

namespace MLNetExtensions.Tests;

/// <summary>
/// Datasets tests share rather than regenerate: the built-in synthetic shapes dataset is written once per machine into
/// the temp folder (EnsureBuiltIn's marker file makes later calls free, and regenerates after a generator change).
/// </summary>
internal static class SharedDatasets
{
    public static string SyntheticShapes
        => SyntheticShapesDataset.EnsureBuiltIn(Path.Combine(Path.GetTempPath(), "mlnetext-tests-synthetic-shapes"));
}
