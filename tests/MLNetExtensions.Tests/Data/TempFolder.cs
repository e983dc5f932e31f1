namespace MLNetExtensions.Tests.Data;

/// <summary>A fresh folder under the temp directory, deleted on dispose; optionally a copy of a TestData fixture.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder(string? copyOfFixture = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlnetext-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        if (copyOfFixture != null)
            Copy(Fixture(copyOfFixture), Path);
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>The full path of a file or folder under the test output's TestData.</summary>
    public static string Fixture(string relative) => System.IO.Path.Combine(AppContext.BaseDirectory, "TestData", relative);

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, System.IO.Path.Combine(to, System.IO.Path.GetFileName(file)));
        foreach (var dir in Directory.GetDirectories(from))
            Copy(dir, System.IO.Path.Combine(to, System.IO.Path.GetFileName(dir)));
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
