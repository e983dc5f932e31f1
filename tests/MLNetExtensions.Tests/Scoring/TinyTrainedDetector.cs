using Microsoft.ML;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Torch.Detection;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// A detector trained for a few steps on the tiny shapes set (enough to move every weight and BatchNorm statistic off
/// its initial value), trained once per test run and shared by the scoring tests, with a handful of images to score.
/// </summary>
internal static class TinyTrainedDetector
{
    private static readonly Dictionary<DetectorArchitecture, DetectionTransformer> Trained = [];

    public static DetectionTransformer Get(DetectorArchitecture architecture)
    {
        lock (Trained)
        {
            if (!Trained.TryGetValue(architecture, out var detector))
            {
                var ml = new MLContext(1);
                var options = DetectorTrainingTests.TinyOptions(architecture) with { MaxSteps = 3, WarmupSteps = 0 };
                detector = ml.Transforms.TrainSsdDetector(options).Fit(DetectorTrainingTests.Load(ml, "train"));
                Trained[architecture] = detector;
            }
            return detector;
        }
    }

    /// <summary>The first <paramref name="count"/> validation images of the tiny set.</summary>
    public static string[] Images(int count)
    {
        var folder = Path.Combine(DetectorTrainingTests.TinyShapes, "JPEGImages");
        var images = Directory.GetFiles(folder, "val_*.png").Order().Take(count).ToArray();
        Assert.HasCount(count, images, $"the tiny shapes set in '{folder}' has too few validation images");
        return images;
    }

    /// <summary>A view with one ImagePath column, as the scoring host builds it.</summary>
    public static IDataView ImageView(MLContext ml, IEnumerable<string> paths)
        => ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }));

    internal sealed class ImageRow
    {
        public string ImagePath = "";
    }
}
