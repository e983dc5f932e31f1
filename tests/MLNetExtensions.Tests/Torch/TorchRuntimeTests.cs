using MLNetExtensions.Torch;
using TorchSharp;

namespace MLNetExtensions.Tests.Torch;

[TestClass]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void TorchSharpRunsAnOpOnThisMachine()
    {
        TorchRuntime.EnsureLoaded();
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var b = torch.ones(3, 2);
        using var c = a.matmul(b);
        CollectionAssert.AreEqual(new float[] { 3, 3, 12, 12 }, c.data<float>().ToArray());
    }

    [TestMethod]
    public void TheCopiedNativeLibraryHasItsGlibcxx3432RequirementWeakened()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.IsTrue(File.Exists(path), path);
        var needs = ElfVersionNeeds.Read(path);
        var v = needs.Single(n => n.Name == "GLIBCXX_3.4.32");
        Assert.AreEqual(0x2, v.Flags & 0x2, "VER_FLG_WEAK must be set in the copied file");
        Assert.IsFalse(ElfVersionNeeds.RequiresStrictly(path, "GLIBCXX_3.4.32"));
        Assert.IsTrue(ElfVersionNeeds.RequiresStrictly(path, "GLIBCXX_3.4.9") || needs.Any(n => n.Name.StartsWith("GLIBC_")), "other requirements stay as they were");
    }

    [TestMethod]
    public void GlibcMallocKeepsFreedMemoryUnlessTheUserSetItsPadding()
    {
        // Linux with glibc and no MALLOC_TOP_PAD_ / GLIBC_TUNABLES of its own (CI, the dev machine): mallopt takes the pad.
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_TOP_PAD_") != null || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") != null)
            Assert.Inconclusive("Not glibc's defaults here.");
        TorchRuntime.EnsureLoaded();
        Assert.IsTrue(GlibcMallocPadding.EnsureApplied());
    }

    [TestMethod]
    public void DiagnosisNamesWhatWasTriedAndWhatToDo()
    {
        var text = TorchRuntime.Diagnose(DeviceType.CUDA, new DllNotFoundException("not restored"));
        StringAssert.Contains(text, "TorchSharp could not load libtorch for CUDA.");
        StringAssert.Contains(text, "libLibTorchSharp.so");
        StringAssert.Contains(text, "UseCpuLibTorch=false");
        StringAssert.Contains(text, "TorchSharp said: not restored");
    }
}
