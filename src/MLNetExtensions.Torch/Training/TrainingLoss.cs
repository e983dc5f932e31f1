using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// One step's loss as a model family returns it (torchvision's dict of named losses): the scalar that is minimised,
/// its named parts (reported and kept in the history, e.g. "classification" and "localization"), and named figures
/// that are reported next to them but not minimised (e.g. the RPN's accuracy).
/// </summary>
internal sealed record TrainingLoss(Tensor Total, IReadOnlyList<(string Name, Tensor Value)> Parts, IReadOnlyList<(string Name, Tensor Value)>? Figures = null);
