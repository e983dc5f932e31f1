namespace MLNetExtensions.Torch.Detection;

// In the Detection namespace, where it was first declared, so that existing code keeps compiling.
/// <summary>The optimizer of a training run.</summary>
public enum OptimizerKind
{
    /// <summary>AdamW (Adam with decoupled weight decay).</summary>
    Adam,
    /// <summary>SGD with momentum (DeepLab's choice, with the poly schedule).</summary>
    Sgd,
    /// <summary>Adadelta (its learning rate scales the adaptive step; 1.0 is the usual value).</summary>
    Adadelta,
}
