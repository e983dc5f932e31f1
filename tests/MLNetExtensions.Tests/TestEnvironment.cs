namespace MLNetExtensions.Tests;

/// <summary>
/// Checkpoints are on by default, in a folder under the user's local data folder (on Linux <c>$XDG_DATA_HOME</c>). The
/// suite points that folder at a temporary one of its own, removed at the end, so tests neither litter the machine's
/// data folder nor resume from another run's crash; child processes the tests start inherit it.
/// </summary>
[TestClass]
public static class TestEnvironment
{
    private static string? _dataHome;

    /// <summary>The local data folder the suite's default checkpoints go under.</summary>
    public static string DataHome => _dataHome ?? throw new InvalidOperationException("The assembly initializer has not run.");

    [AssemblyInitialize]
    public static void PointLocalDataAtATemporaryFolder(TestContext _)
    {
        _dataHome = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "local-data-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dataHome);
        Environment.SetEnvironmentVariable("XDG_DATA_HOME", _dataHome);
        Environment.SetEnvironmentVariable("LOCALAPPDATA", _dataHome);   // Windows
    }

    [AssemblyCleanup]
    public static void RemoveTheTemporaryLocalData()
    {
        if (_dataHome != null && Directory.Exists(_dataHome)) Directory.Delete(_dataHome, recursive: true);
    }
}
