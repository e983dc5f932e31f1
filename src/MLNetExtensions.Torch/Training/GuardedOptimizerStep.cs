using TorchSharp;
using TorchSharp.Modules;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// The optimizer step every training loop here takes after <c>backward()</c>: gradient clipping, and a skipped update
/// when the gradient is not finite, as mixed-precision loss scaling does; too many skips in a row stop training with <see cref="TrainingDivergedException"/>.
/// </summary>
internal sealed class GuardedOptimizerStep
{
    private const int MaxConsecutiveSkips = 5;
    private readonly torch.optim.Optimizer _optimizer;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly double _clipNorm;
    private readonly bool _defaultCheckpointFolder;
    private int _consecutiveSkips;

    /// <param name="optimizer">The optimizer.</param>
    /// <param name="parameters">The trained parameters (frozen ones have no gradient and are left out).</param>
    /// <param name="clipNorm">Largest gradient norm; null: no clipping.</param>
    /// <param name="defaultCheckpointFolder">Whether the checkpoints go to the default folder (<see cref="ResumeHint"/>).</param>
    public GuardedOptimizerStep(torch.optim.Optimizer optimizer, IReadOnlyList<Parameter> parameters, double? clipNorm, bool defaultCheckpointFolder = false)
    {
        _defaultCheckpointFolder = defaultCheckpointFolder;
        _optimizer = optimizer;
        _parameters = parameters;
        _clipNorm = clipNorm ?? double.PositiveInfinity;
    }

    /// <summary>Steps whose update was skipped because the gradient was not finite.</summary>
    public int SkippedSteps { get; private set; }

    /// <summary>Clips and applies the gradients of 0-based <paramref name="step"/>, or skips them when not finite.</summary>
    public void Apply(int step, string? lastCheckpoint)
    {
        double norm = ClipGradients();
        if (double.IsFinite(norm))
        {
            _consecutiveSkips = 0;
            _optimizer.step();
            return;
        }
        SkippedSteps++;
        if (++_consecutiveSkips >= MaxConsecutiveSkips)
            throw new TrainingDivergedException($"The gradient was not finite for {_consecutiveSkips} steps in a row, up to step {step + 1}. " + ResumeHint(lastCheckpoint, _defaultCheckpointFolder));
        _optimizer.zero_grad();
    }

    /// <summary>
    /// Scales the gradients down to a norm of at most the clip norm (<c>clip_grad_norm_</c>: by max / (norm + 1e-6) when
    /// over it) and returns their norm before; over the flat gradient buffer when the optimizer keeps one, one norm and
    /// one scaling instead of one of each per parameter.
    /// </summary>
    internal double ClipGradients()
    {
        if ((_optimizer as HeldScalars.AdamW)?.Contiguous is not { } contiguous)
            return torch.nn.utils.clip_grad_norm_(_parameters, _clipNorm);
        contiguous.Gather();
        using var scope = torch.NewDisposeScope();
        double norm = contiguous.Gradients.norm().item<float>();
        if (norm > _clipNorm && double.IsFinite(norm))
        {
            using Scalar scale = _clipNorm / (norm + 1e-6);
            contiguous.Gradients.mul_(scale);
        }
        return norm;
    }

    /// <summary>What to do after training diverged. Resuming is no remedy: a checkpoint resumes only with the options that
    /// made it (the learning rate is part of its fingerprint), and with those the run repeats its steps and diverges again.</summary>
    /// <param name="lastCheckpoint">The folder of the run's checkpoints, or null when it has none.</param>
    /// <param name="defaultFolder">Whether the checkpoints are in the default folder, which is per options.</param>
    public static string ResumeHint(string? lastCheckpoint, bool defaultFolder) => (lastCheckpoint, defaultFolder) switch
    {
        (null, _) => "Lower LearningRate (or set GradientClipNorm) and train again.",
        (_, true) => $"Lower LearningRate (or set GradientClipNorm) and train again; that run starts over in a checkpoint folder of its own. The checkpoints in '{lastCheckpoint}' resume only with these options, with which training diverges again at the same step: delete them.",
        _ => $"Lower LearningRate (or set GradientClipNorm) and train again with another CheckpointFolder, or delete the checkpoints in '{lastCheckpoint}' first: they resume only with these options, with which training diverges again at the same step.",
    };

    /// <summary>The order of an epoch: a pure function of (n, seed), so a resumed run repeats it.</summary>
    public static int[] Permutation(int n, int seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }
}
