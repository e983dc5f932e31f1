using MLNetExtensions.Torch.Detection;

namespace Quickstart;

/// <summary>What the quickstart trains.</summary>
internal enum QuickstartTask { Detection, Segmentation }

/// <summary>
/// The backbone: each architecture's default (Default: Lite for SSD, grid and DeepLab, ImageNetResNet18 for Faster
/// R-CNN), the small from-scratch network of each task (Lite: VggLite or ResNetLite at the --width multiplier),
/// torchvision's ResNet-18 at full width from random weights (ResNet18), or the same network from ML.NET's ImageNet
/// ResNet-18 (ImageNetResNet18, <c>PretrainedBackbone.ImageNetResNet18</c>).
/// </summary>
internal enum QuickstartBackbone { Default, Lite, ResNet18, ImageNetResNet18 }

internal sealed record QuickstartSettings(QuickstartTask Task, DetectorArchitecture Architecture, int Epochs, string Output, string? DataFolder, float WidthMultiplier = 0.5f, int? Threads = null, bool FasterRcnn = false,
    QuickstartBackbone Backbone = QuickstartBackbone.Default, int? Steps = null, bool Rcnn = false, int Seed = 1)
{
    public static QuickstartSettings? Parse(string[] args)
    {
        var s = new QuickstartSettings(QuickstartTask.Detection, DetectorArchitecture.Ssd, 0, "", null);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--task": s = s with { Task = Enum.Parse<QuickstartTask>(Next(), ignoreCase: true) }; break;
                case "--architecture":
                    var architecture = Next();
                    s = architecture.ToLowerInvariant() switch
                    {
                        "faster-rcnn" => s with { FasterRcnn = true, Rcnn = false },
                        "rcnn" => s with { Rcnn = true, FasterRcnn = false },
                        _ => s with { Architecture = Enum.Parse<DetectorArchitecture>(architecture, ignoreCase: true), FasterRcnn = false, Rcnn = false },
                    };
                    break;
                case "--epochs": s = s with { Epochs = int.Parse(Next()) }; break;
                case "--output": s = s with { Output = Path.GetFullPath(Next()) }; break;
                case "--data": s = s with { DataFolder = Path.GetFullPath(Next()) }; break;
                case "--width": s = s with { WidthMultiplier = float.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) }; break;
                case "--backbone":
                    s = s with
                    {
                        Backbone = Next().ToLowerInvariant() switch
                        {
                            "default" => QuickstartBackbone.Default,
                            "lite" => QuickstartBackbone.Lite,
                            "resnet18" => QuickstartBackbone.ResNet18,
                            "imagenet-resnet18" => QuickstartBackbone.ImageNetResNet18,
                            var other => throw new ArgumentException($"--backbone '{other}' is unknown: use default, lite, resnet18 or imagenet-resnet18."),
                        },
                    };
                    break;
                case "--steps": s = s with { Steps = int.Parse(Next()) is >= 1 and var steps ? steps : throw new ArgumentException("--steps needs a positive number.") }; break;
                case "--threads": s = s with { Threads = int.Parse(Next()) is >= 1 and var n ? n : throw new ArgumentException("--threads needs a positive number.") }; break;
                // The trainer's seed (weights, shuffling, augmentation, dropout); the data and the splits stay the built-in ones.
                case "--seed": s = s with { Seed = int.TryParse(Next(), out var seed) ? seed : throw new ArgumentException($"--seed needs a whole number, not '{args[i]}'.") }; break;
                default:
                    Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: Quickstart [--task detection|segmentation] [--architecture ssd|grid|faster-rcnn|rcnn] [--epochs N] [--output DIR] [--data DIR] [--width MULTIPLIER] [--threads N] [--backbone default|lite|resnet18|imagenet-resnet18] [--steps N] [--seed N]");
                    return null;
            }
        }
        // Without --output, each task writes into a folder of its own, so one run does not overwrite the other's model.zip.
        if (s.Output == "") s = s with { Output = Path.GetFullPath(s.Task == QuickstartTask.Detection ? "quickstart-output" : Path.Combine("quickstart-output", "segmentation")) };
        // 0 epochs: each task's quickstart picks its own budget (DetectionQuickstart.DefaultSteps, SegmentationQuickstart).
        return s;
    }
}
