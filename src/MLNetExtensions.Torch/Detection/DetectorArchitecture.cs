namespace MLNetExtensions.Torch.Detection;

/// <summary>Which detector <see cref="SsdDetectorEstimator"/> trains.</summary>
public enum DetectorArchitecture
{
    /// <summary>Multi-scale SSD: six feature maps, default boxes of several scales and aspect ratios, hard negative mining.</summary>
    Ssd,
    /// <summary>The grid detector: one S×S map, per cell 4 box values (tanh) and C class confidences (sigmoid), MSE.</summary>
    Grid,
}
