using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// What a model family gives <see cref="TrainingLoop"/>: its data, how to build its model, its loss on a batch, its
/// validation metric and its export. Adding a family means writing one of these, not another loop.
/// </summary>
internal interface ITrainingTask<TModel> where TModel : ITrainableModel
{
    /// <summary>Where log messages come from (the estimator's name).</summary>
    string LogSource { get; }

    /// <summary>The validation metric's name in messages ("validation mAP@0.5", "validation mIoU").</summary>
    string MetricName { get; }

    /// <summary>Training examples; an epoch is <c>ceil(Count / BatchSize)</c> steps.</summary>
    int Count { get; }

    /// <summary>Whether <see cref="Validate"/> has data to score.</summary>
    bool HasValidation { get; }

    /// <summary>What a checkpoint must agree with to be resumed: the network's description (<see cref="CheckpointFingerprint"/>).</summary>
    string Fingerprint { get; }

    /// <summary>The family's named run settings a checkpoint must also agree with (loss and matching, augmentation, the
    /// training data's hash); the loop adds the shared ones (seed, schedule, length).</summary>
    IEnumerable<(string Name, object? Value)> FingerprintSettings { get; }

    /// <summary>A new model on <paramref name="device"/> (called twice when the weights are averaged).</summary>
    TModel CreateModel(Device device);

    /// <summary>The loss of step <paramref name="step"/>: the training examples <paramref name="indices"/>
    /// (<see cref="TrainingPlan.Indices"/> of that step), with <paramref name="rng"/> the step's own generator, in train mode.</summary>
    TrainingLoss Loss(TModel model, int step, int[] indices, Random rng, Device device);

    /// <summary>The validation metric of <paramref name="model"/> (higher is better); leaves it in eval mode.</summary>
    double Validate(TModel model, Device device);

    /// <summary>The ONNX bytes of <paramref name="model"/>; leaves it in eval mode.</summary>
    byte[] Export(TModel model);
}
