using MLNetExtensions.Scoring;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>Scoring needs neither TorchSharp nor libtorch: neither the scoring library nor an app that scores refers to them.</summary>
[TestClass]
public sealed class ScoringDependencyTests
{
    [TestMethod]
    public void TheScoringLibraryDoesNotReferenceTorchSharp()
    {
        var references = typeof(DetectionTransformer).Assembly.GetReferencedAssemblies().Select(a => a.Name ?? "").ToArray();
        CollectionAssert.Contains(references, "Microsoft.ML.OnnxTransformer", "sanity check: the list holds the scoring library's references");
        var torch = references.Where(n => n.Contains("Torch", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.IsEmpty(torch, $"MLNetExtensions.dll refers to {string.Join(", ", torch)}");
    }

    [TestMethod]
    public void TheScoringHostShipsNoLibTorch()
    {
        var depsJson = Path.ChangeExtension(SaveLoadTests.HostPath, ".deps.json");
        Assert.IsTrue(File.Exists(depsJson), $"'{depsJson}' was not built; build the solution.");
        var deps = File.ReadAllText(depsJson);
        StringAssert.Contains(deps, "Microsoft.ML.OnnxRuntime", "sanity check: the deps file lists the scoring runtime");
        foreach (var name in new[] { "TorchSharp", "libtorch", "MLNetExtensions.Torch" })
            Assert.IsFalse(deps.Contains(name, StringComparison.OrdinalIgnoreCase), $"'{depsJson}' lists {name}");
        var folder = Path.GetDirectoryName(SaveLoadTests.HostPath)!;
        var torchFiles = Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.IsEmpty(torchFiles, $"the host's output holds {string.Join(", ", torchFiles)}");
    }
}
