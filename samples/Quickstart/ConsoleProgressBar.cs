using MLNetExtensions.Torch.Training;

namespace Quickstart;

/// <summary>A one-line progress bar for training, redrawn in place (or printed every few percent when output is redirected).</summary>
/// <param name="metricName">How the validation metric is labelled (the detector reports mAP@0.5, the segmenter mIoU).</param>
/// <param name="losses">The loss parts shown, as (key in <see cref="TrainingProgress.Losses"/>, short label); none: the detector's.</param>
internal sealed class ConsoleProgressBar(string metricName = "val mAP@0.5", params (string Key, string Label)[] losses) : IProgress<TrainingProgress>
{
    private readonly (string Key, string Label)[] _losses = losses.Length > 0 ? losses : [("classification", "cls"), ("localization", "loc")];
    private readonly DateTime _start = DateTime.UtcNow;
    private int _lastPercent = -1;

    public void Report(TrainingProgress p)
    {
        int percent = (int)(100L * p.Step / p.TotalSteps);
        var elapsed = DateTime.UtcNow - _start;
        var eta = p.Step == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(elapsed.TotalSeconds * (p.TotalSteps - p.Step) / p.Step);
        const int width = 30;
        int filled = width * p.Step / p.TotalSteps;
        string line = $"[{new string('#', filled)}{new string('.', width - filled)}] {percent,3}% step {p.Step}/{p.TotalSteps} " +
                      string.Concat(_losses.Select(l => $"{l.Label} {p.Losses[l.Key]:F3} ")) +
                      $"{p.ImagesPerSecond:F0} img/s eta {eta:mm\\:ss}" +
                      (p.ValidationMetric is double v ? $" {metricName} {v:F3}" : "");
        if (!Console.IsOutputRedirected)
        {
            Console.Write("\r" + line.PadRight(Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 140) : 120));
            if (p.Step == p.TotalSteps) Console.WriteLine();
        }
        else if (percent / 5 != _lastPercent / 5 || p.ValidationMetric is not null || p.Step == p.TotalSteps)
        {
            Console.WriteLine(line);
        }
        _lastPercent = percent;
    }
}
