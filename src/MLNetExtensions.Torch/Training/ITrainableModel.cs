using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>A model as <see cref="TrainingLoop"/> sees it: the network whose parameters are trained and checkpointed.</summary>
internal interface ITrainableModel
{
    /// <summary>The network: its trainable parameters are optimised, its state is checkpointed and averaged.</summary>
    nn.Module Network { get; }
}
