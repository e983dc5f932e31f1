using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Bench;

/// <summary>Reports on the training thread, at once (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class StepReport(Action<TrainingProgress> report) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => report(value);
}
