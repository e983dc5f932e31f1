using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Modules;

/// <summary>
/// The frozen stages of a backbone: their parameters take no gradient and they stay in eval mode whatever
/// <c>train()</c> the network gets, so their BatchNorm layers normalise with, and keep, the running statistics they
/// came with (torchvision's <c>FrozenBatchNorm2d</c>, without a second module type). Shared by every network that
/// freezes part of its backbone (<c>FreezeBackbone</c> / <c>FreezeBackboneUpTo</c>).
/// </summary>
internal sealed class FrozenBackboneStages
{
    private readonly List<nn.Module> _modules = [];

    /// <summary>The frozen stages, in input order.</summary>
    public IReadOnlyList<string> Names { get; private set; } = [];

    /// <summary>The BatchNorm layers of the frozen stages.</summary>
    public IEnumerable<TorchSharp.Modules.BatchNorm> BatchNorms => _modules.SelectMany(m => m.modules().Prepend(m)).OfType<TorchSharp.Modules.BatchNorm>();

    /// <summary>Freezes the stages from the first up to and including <paramref name="upToStage"/> (null: all).</summary>
    /// <param name="stageNames">The backbone's stages in input order.</param>
    /// <param name="stageModules">The modules of a stage.</param>
    /// <param name="upToStage">The last stage to freeze; null for all.</param>
    /// <param name="training">Whether the network is in training mode now.</param>
    /// <param name="keepTrainingMode">Leave the frozen modules in the network's mode (for comparisons only: a frozen
    /// BatchNorm that normalises with mini-batch statistics); false keeps them in eval mode.</param>
    /// <exception cref="ArgumentException">The backbone has no stage of that name; the message lists them.</exception>
    public void Freeze(IReadOnlyList<string> stageNames, Func<string, IReadOnlyList<nn.Module>> stageModules, string? upToStage, bool training, bool keepTrainingMode = false)
    {
        int last = upToStage is null ? stageNames.Count - 1 : stageNames.ToList().IndexOf(upToStage);
        if (last < 0)
            throw new ArgumentException($"The backbone has no stage '{upToStage}'. Its stages are: {string.Join(", ", stageNames)}.", nameof(upToStage));
        _modules.Clear();
        for (int i = 0; i <= last; i++)
        {
            foreach (var module in stageModules(stageNames[i]))
            {
                foreach (var p in module.parameters()) p.requires_grad = false;
                module.train(training && keepTrainingMode);
                _modules.Add(module);
            }
        }
        Names = stageNames.Take(last + 1).ToArray();
    }

    /// <summary>Puts the frozen modules back in eval mode; call after the owner's <c>base.train(on)</c>.</summary>
    public void KeepInEvalMode()
    {
        foreach (var module in _modules) module.eval();
    }
}
