using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using MLNetExtensions.Tests.Data;

namespace MLNetExtensions.Tests.Packaging;

/// <summary>
/// The packages as an application outside this repository gets them: <c>dotnet pack</c> of the three libraries into a
/// local feed (with a version of its own, so no earlier package in the NuGet cache is used), their metadata, then a new
/// console app in a temporary folder that takes them by <c>dotnet add package</c>, trains a tiny detector, scores it
/// with the typed PredictionEngine, saves, reloads, and draws. A file, dependency or targets import missing from a
/// package fails here, not in the in-repository tests (which see the projects, not the packages).
/// </summary>
[TestClass]
public sealed class PackageTests
{
    private static readonly string[] Libraries = ["MLNetExtensions", "MLNetExtensions.Torch", "MLNetExtensions.Visualization"];

    [TestMethod]
    [Timeout(1_800_000)]
    public void ANewConsoleAppTrainsScoresSavesAndReloadsFromThePackages()
    {
        string repo = RepositoryRoot();
        using var work = new TempFolder();
        string version = $"0.1.0-packagetest.{DateTime.UtcNow:yyyyMMddHHmmss}";
        string feed = work["feed"], app = work["app"];
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var library in Libraries)
                Dotnet(repo, "pack", Path.Combine(repo, "src", library, library + ".csproj"), "-c", "Release", "-o", feed,
                    $"-p:Version={version}", "--artifacts-path", work["artifacts"], "-nologo");
            Console.WriteLine($"packed in {clock.Elapsed.TotalSeconds:F0} s");
            CheckPackages(feed, version);

            // A new console app outside the repository: the feed in a nuget.config of its own folder, next to the
            // machine's sources (nothing of the repository's build files applies there).
            Dotnet(work.Path, "new", "console", "-o", app, "--framework", "net10.0", "--no-update-check");
            File.WriteAllText(work["nuget.config"], $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="mlnetextensions-package-test" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Packaging", "ConsumerProgram.cs.txt"), Path.Combine(app, "Program.cs"), overwrite: true);
            foreach (var library in Libraries)
                Dotnet(app, ["add", "package", library, "--version", version, .. library == Libraries[^1] ? Array.Empty<string>() : ["--no-restore"]]);
            var build = Dotnet(app, "build", "-c", "Release", "-nologo");
            StringAssert.Contains(build, "Marked GLIBCXX_3.4.32 weak", "the Torch package's buildTransitive targets patched the app's libLibTorchSharp.so");
            string bin = Path.Combine(app, "bin", "Release", "net10.0");
            Assert.IsTrue(File.Exists(Path.Combine(bin, "runtimes", "linux-x64", "native", "libtorch_cpu.so")), "the CPU libtorch came with the Torch package");
            Console.WriteLine($"app built in {clock.Elapsed.TotalSeconds:F0} s");

            var output = Dotnet(app, Path.Combine(bin, "app.dll"), work.Path);
            Console.WriteLine(output);
            using var result = JsonDocument.Parse(File.ReadAllText(work["result.json"]));
            var r = result.RootElement;
            double first = r.GetProperty("firstLoss").GetDouble(), last = r.GetProperty("lastLoss").GetDouble();
            Assert.IsLessThan(first, last, $"the app's training loss fell ({first:F3} → {last:F3})");
            Assert.IsGreaterThan(0, r.GetProperty("detections").GetInt32(), "the trained detector found something");
            var scored = r.GetProperty("scored").EnumerateArray().Select(e => e.GetString()).ToList();
            CollectionAssert.AreEqual(scored, r.GetProperty("reloaded").EnumerateArray().Select(e => e.GetString()).ToList(), "the reloaded model detects the same");
            Assert.IsTrue(r.GetProperty("assemblies").EnumerateArray().Any(a => a.GetString() == "TorchSharp"));
            foreach (var png in new[] { "detections.png", "loss.png" })
                CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(work[png])[..4], png);
            Console.WriteLine($"package test: {clock.Elapsed.TotalSeconds:F0} s in all");
        }
        finally
        {
            // The test's own version in the NuGet cache: removed, so runs do not pile up.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var library in Libraries)
            {
                string folder = Path.Combine(cache, library.ToLowerInvariant(), version);
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>Each package's README, licence, repository, XML docs, build files and dependencies.</summary>
    private static void CheckPackages(string feed, string version)
    {
        var expected = new Dictionary<string, string[]>
        {
            ["MLNetExtensions"] = ["Microsoft.ML", "Microsoft.ML.ImageAnalytics", "Microsoft.ML.OnnxTransformer", "Microsoft.ML.OnnxRuntime", "Google.Protobuf", "System.IO.Hashing"],
            ["MLNetExtensions.Torch"] = ["MLNetExtensions", "TorchSharp", "libtorch-cpu-linux-x64"],
            ["MLNetExtensions.Visualization"] = ["MLNetExtensions", "SkiaSharp", "OxyPlot.Core", "OxyPlot.SkiaSharp", "HarfBuzzSharp.NativeAssets.Linux"],
        };
        foreach (var (id, dependencies) in expected)
        {
            string path = Path.Combine(feed, $"{id}.{version}.nupkg");
            Assert.IsTrue(File.Exists(path), $"dotnet pack wrote no {path}");
            using var zip = ZipFile.OpenRead(path);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            XNamespace ns = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open()).Root!.Name.Namespace;
            var metadata = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open()).Root!.Element(ns + "metadata")!;
            Assert.AreEqual("MIT", metadata.Element(ns + "license")?.Value, $"{id}: licence expression");
            Assert.AreEqual("README.md", metadata.Element(ns + "readme")?.Value, $"{id}: readme");
            Assert.Contains("README.md", entries, $"{id}: the README is in the package");
            var repository = metadata.Element(ns + "repository");
            Assert.AreEqual("git", repository?.Attribute("type")?.Value, $"{id}: repository type");
            Assert.MatchesRegex("^[0-9a-f]{40}$", repository?.Attribute("commit")?.Value ?? "", $"{id}: repository commit");
            Assert.Contains($"lib/net10.0/{id}.dll", entries, id);
            Assert.Contains($"lib/net10.0/{id}.xml", entries, $"{id}: XML documentation");
            var listed = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
            CollectionAssert.AreEquivalent(dependencies, listed, $"{id}: dependencies");
            Assert.AreEqual(version, metadata.Descendants(ns + "dependency").FirstOrDefault(d => d.Attribute("id")!.Value == "MLNetExtensions")?.Attribute("version")?.Value ?? version);
        }
        using var torch = ZipFile.OpenRead(Path.Combine(feed, $"MLNetExtensions.Torch.{version}.nupkg"));
        var torchEntries = torch.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("buildTransitive/MLNetExtensions.Torch.targets", torchEntries);
        Assert.Contains("buildTransitive/TorchSharpNativeFix.targets", torchEntries);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNetExtensions.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No MLNetExtensions.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="args"/> in <paramref name="folder"/>; fails the test with its output unless it exits 0.</summary>
    private static string Dotnet(string folder, params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The test host's MSBuild settings would point the child's build at this build's SDK state.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(600_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(" ", args)} did not finish within 10 minutes.");
        }
        string output = stdout.Result + stderr.Result;
        Assert.AreEqual(0, process.ExitCode, $"dotnet {string.Join(" ", args)} failed in {folder}:\n{output}");
        return output;
    }
}
