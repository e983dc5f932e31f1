namespace MLNetExtensions.Torch.Training;

/// <summary>How the learning rate decays after warmup.</summary>
public enum LearningRateDecay
{
    /// <summary>Constant after warmup.</summary>
    None,
    /// <summary>Half-cosine from the base rate to <c>MinFactor × base</c> at the last step.</summary>
    Cosine,
    /// <summary>Multiplied by <c>StepGamma</c> at each of <c>StepMilestones</c> (fractions of the run).</summary>
    Step,
    /// <summary>DeepLab's "poly": <c>base × (1 - t/T)^power</c>.</summary>
    Poly,
}

/// <summary>Learning rate per step: linear warmup from 0, then the chosen decay. Pure function of the step, so resuming
/// from a checkpoint reproduces it exactly.</summary>
public sealed class LearningRateSchedule
{
    public LearningRateSchedule(double baseRate, int totalSteps, int warmupSteps = 0, LearningRateDecay decay = LearningRateDecay.Cosine,
        double minFactor = 0.01, IReadOnlyList<double>? stepMilestones = null, double stepGamma = 0.1, double polyPower = 0.9)
    {
        if (!(baseRate > 0)) throw new ArgumentOutOfRangeException(nameof(baseRate), baseRate, "The learning rate must be positive.");
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "At least one step is needed.");
        if (warmupSteps < 0 || warmupSteps > totalSteps) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, $"Warmup must be within 0..{totalSteps} steps.");
        BaseRate = baseRate; TotalSteps = totalSteps; WarmupSteps = warmupSteps; Decay = decay;
        MinFactor = minFactor; StepMilestones = stepMilestones ?? [0.66, 0.9]; StepGamma = stepGamma; PolyPower = polyPower;
    }

    public double BaseRate { get; }
    public int TotalSteps { get; }
    public int WarmupSteps { get; }
    public LearningRateDecay Decay { get; }
    public double MinFactor { get; }
    public IReadOnlyList<double> StepMilestones { get; }
    public double StepGamma { get; }
    public double PolyPower { get; }

    /// <summary>The rate for 0-based <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return BaseRate * (step + 1) / WarmupSteps;
        int span = Math.Max(1, TotalSteps - WarmupSteps);
        double t = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        return Decay switch
        {
            LearningRateDecay.Cosine => BaseRate * (MinFactor + (1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * t))),
            LearningRateDecay.Step => BaseRate * Math.Pow(StepGamma, StepMilestones.Count(m => (double)step / TotalSteps >= m)),
            LearningRateDecay.Poly => BaseRate * Math.Pow(1 - t, PolyPower),
            _ => BaseRate,
        };
    }
}
