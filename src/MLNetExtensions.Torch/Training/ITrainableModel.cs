using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>A model as <see cref="TrainingLoop"/> sees it: the network whose parameters are trained and checkpointed.
/// Disposing it frees the network and every tensor the model holds besides it (default boxes, anchors...).</summary>
internal interface ITrainableModel : IDisposable
{
    /// <summary>The network: its trainable parameters are optimised, its state is checkpointed and averaged.</summary>
    nn.Module Network { get; }
}
