using Microsoft.ML;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Segmentation;
using MLNetExtensions.Torch.Segmentation;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// The tiny segmenter after 10 steps on the tiny shapes (64 px): enough to move every weight and BatchNorm
/// statistic off its initial value. Background weighs little in its loss, so that so early it already predicts
/// several classes (unweighted, it first learns to say "background" everywhere) and equal masks say something.
/// Trained once per test run and shared by the scoring tests.
/// </summary>
internal static class TinyTrainedSegmenter
{
    private static readonly Lock Gate = new();
    private static SegmentationTransformer? _segmenter;

    public static SegmentationTransformer Get()
    {
        lock (Gate)
        {
            if (_segmenter == null)
            {
                var ml = new MLContext(1);
                _segmenter = ml.Transforms.TrainDeepLabSegmenter(DeepLabTrainingTests.TinyOptions() with { MaxSteps = 10, ClassWeights = [0.05f, 1, 1, 1, 1, 1] })
                    .Fit(DeepLabTrainingTests.Load(ml, "train"));
            }
            return _segmenter;
        }
    }
}
