namespace MLNetExtensions.Torch.Training;

/// <summary>The loss became NaN or infinite. Training stopped; the last checkpoint (if any) is kept.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
