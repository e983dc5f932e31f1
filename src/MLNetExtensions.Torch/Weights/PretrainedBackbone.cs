using MLNetExtensions.Torch.Modules;

namespace MLNetExtensions.Torch.Weights;

/// <summary>
/// Pretrained backbone weights that need no Python step. <see cref="ImageNetResNet18"/> is the ImageNet ResNet-18 of
/// ML.NET's own <c>DnnFeaturizeImage</c> (NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.23.1, MIT),
/// imported into torchvision's resnet18 layout by <see cref="ResNet18OnnxImporter"/>. Give its path as a trainer's
/// <c>BackboneWeightsPath</c> with <c>Backbone = ResNet18</c> and
/// <see cref="Modules.PixelNormalization.ImageNetMeanSubtraction"/>, the input those weights expect.
/// </summary>
/// <remarks>
/// The package is not a dependency of this library (it is 119 MB): add
/// <c>&lt;PackageReference Include="Microsoft.ML.DnnImageFeaturizer.ResNet18" Version="0.23.1" /&gt;</c> to the
/// application that trains, whose build then copies <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> into its output
/// folder; a restore of it anywhere on the machine also leaves the file in the NuGet packages folder, which is searched
/// next. Scoring needs nothing: the normalisation is part of every exported graph.
/// </remarks>
public static class PretrainedBackbone
{
    /// <summary>The NuGet package that holds the ImageNet ResNet-18.</summary>
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The package version whose file is searched for in the NuGet packages folder.</summary>
    public const string PackageVersion = "0.23.1";

    private static readonly string[] ModelPath = ["DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"];

    /// <summary>
    /// The path of the package's <c>ResNet18.onnx</c>: in the application's folder
    /// (<c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c>, where the package's build copies it), else in the NuGet
    /// packages folder (<c>NUGET_PACKAGES</c>, or <c>~/.nuget/packages</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither place has the file; the message says how to get it.</exception>
    public static string ImageNetResNet18 =>
        FindImageNetResNet18() ?? throw new FileNotFoundException(
            $"The ImageNet ResNet-18 weights were not found: neither '{Path.Combine([AppContext.BaseDirectory, .. ModelPath])}' nor " +
            $"'{PackagePath() ?? "(no NuGet packages folder)"}' exists. Add <PackageReference Include=\"{PackageId}\" Version=\"{PackageVersion}\" /> " +
            "to the project that trains (its build copies ResNet18.onnx into the output folder), or give the path of that file as BackboneWeightsPath.",
            Path.Combine(ModelPath));

    /// <summary>The path <see cref="ImageNetResNet18"/> gives, or null when the file is in neither place.</summary>
    public static string? FindImageNetResNet18()
    {
        var local = Path.Combine([AppContext.BaseDirectory, .. ModelPath]);
        if (File.Exists(local)) return local;
        var cached = PackagePath();
        return cached != null && File.Exists(cached) ? cached : null;
    }

    /// <summary>True when <paramref name="path"/> names an ONNX file, which trainers read with <see cref="ResNet18OnnxImporter"/>
    /// (and which then needs <see cref="Modules.PixelNormalization.ImageNetMeanSubtraction"/>); other files are read as safetensors.</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The options checks every trainer with a <c>BackboneWeightsPath</c> makes: an ONNX file needs the ResNet18
    /// backbone and <see cref="PixelNormalization.ImageNetMeanSubtraction"/>; either ImageNet normalisation needs RGB.
    /// </summary>
    /// <exception cref="ArgumentException">Names the option to change.</exception>
    internal static void CheckTrainerOptions(string? weightsPath, object backbone, bool backboneIsResNet18, PixelNormalization normalization, bool grayscale)
    {
        if (normalization is PixelNormalization.ImageNetMeanSubtraction or PixelNormalization.ImageNet && grayscale)
            throw new ArgumentException($"Normalization {normalization} normalises the three ImageNet colour channels, but Grayscale is true; set Grayscale to false (pretrained weights take RGB).", "Grayscale");
        if (weightsPath is null || !IsOnnx(weightsPath)) return;
        if (!backboneIsResNet18)
            throw new ArgumentException($"BackboneWeightsPath '{weightsPath}' is an ONNX file, read as ML.NET's ImageNet ResNet-18, but Backbone is {backbone}; set Backbone to ResNet18.", "BackboneWeightsPath");
        if (normalization != PixelNormalization.ImageNetMeanSubtraction)
            throw new ArgumentException($"BackboneWeightsPath '{weightsPath}' is ML.NET's ImageNet ResNet-18, whose weights expect Normalization {nameof(PixelNormalization.ImageNetMeanSubtraction)}, but Normalization is {normalization}; set Normalization to {nameof(PixelNormalization.ImageNetMeanSubtraction)}.", "Normalization");
    }

    private static string? PackagePath()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(root))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (string.IsNullOrEmpty(home)) return null;
            root = Path.Combine(home, ".nuget", "packages");
        }
        return Path.Combine([root, PackageId.ToLowerInvariant(), PackageVersion, "tools", .. ModelPath]);
    }
}
