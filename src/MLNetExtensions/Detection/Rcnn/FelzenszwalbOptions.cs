namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Parameters of <see cref="FelzenszwalbSegmentation"/>, named and defaulted as
/// <c>skimage.segmentation.felzenszwalb(image, scale=1, sigma=0.8, min_size=20)</c>.
/// </summary>
/// <param name="Scale">Observation level (the paper's k, here on a 0–255 intensity scale): higher gives fewer, larger
/// segments. Must be positive and finite.</param>
/// <param name="Sigma">Standard deviation in pixels of the Gaussian smoothing applied to each channel first; 0 turns
/// smoothing off. Must be non-negative and finite.</param>
/// <param name="MinSize">Segments smaller than this many pixels are merged into a neighbour afterwards; 0 or 1 keeps
/// every segment. Must be non-negative.</param>
public sealed record FelzenszwalbOptions(double Scale = 1.0, double Sigma = 0.8, int MinSize = 20);
