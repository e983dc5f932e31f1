using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>The optimizers the trainers use: TorchSharp's, with their Scalars held (<see cref="HeldScalars.AdamW"/>).</summary>
internal static class Optimizers
{
    public static optim.Optimizer Create(IEnumerable<TorchSharp.Modules.Parameter> parameters, Detection.OptimizerKind kind, double learningRate, double momentum, double weightDecay)
        => kind switch
        {
            Detection.OptimizerKind.Sgd => new HeldScalars.SGD(parameters, learningRate, momentum, weightDecay),
            Detection.OptimizerKind.Adadelta => new HeldScalars.Adadelta(parameters, learningRate, weightDecay),
            _ => new HeldScalars.AdamW(parameters, learningRate, weightDecay),
        };

    public static void SetLearningRate(optim.Optimizer optimizer, double rate)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
    }
}
