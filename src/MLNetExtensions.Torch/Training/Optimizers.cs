using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

internal static class Optimizers
{
    public static optim.Optimizer Create(IEnumerable<TorchSharp.Modules.Parameter> parameters, Detection.OptimizerKind kind, double learningRate, double momentum, double weightDecay)
        => kind switch
        {
            Detection.OptimizerKind.Sgd => optim.SGD(parameters, learningRate, momentum: momentum, weight_decay: weightDecay),
            Detection.OptimizerKind.Adadelta => optim.Adadelta(parameters, learningRate, weight_decay: weightDecay),
            _ => optim.AdamW(parameters, learningRate, weight_decay: weightDecay),
        };

    public static void SetLearningRate(optim.Optimizer optimizer, double rate)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
    }
}
