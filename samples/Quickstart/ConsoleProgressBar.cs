using MLNetExtensions.Torch.Training;

namespace Quickstart;

/// <summary>A one-line progress bar for training, redrawn in place (or printed every few percent when output is redirected).</summary>
internal sealed class ConsoleProgressBar : IProgress<TrainingProgress>
{
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
                      $"cls {p.Losses["classification"]:F3} loc {p.Losses["localization"]:F3} {p.ImagesPerSecond:F0} img/s eta {eta:mm\\:ss}" +
                      (p.ValidationMetric is double v ? $" val mAP@0.5 {v:F3}" : "");
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
