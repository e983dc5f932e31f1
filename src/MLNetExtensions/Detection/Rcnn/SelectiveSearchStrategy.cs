namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// Which diversification of <see cref="SelectiveSearch"/> to run (Uijlings et al. 2013, section 5.2; OpenCV's
/// <c>switchToSelectiveSearchFast</c> / <c>switchToSelectiveSearchQuality</c>).
/// </summary>
public enum SelectiveSearchStrategy
{
    /// <summary>HSV and Lab colour spaces × Felzenszwalb k = 50, 100 × similarities colour+texture+size+fill and
    /// texture+size+fill: 8 hierarchies.</summary>
    Fast,

    /// <summary>HSV, Lab, intensity I, hue H and rgI × k = 50, 100, 150, 300 × similarities colour+texture+size+fill,
    /// texture+size+fill, fill and size: 80 hierarchies.</summary>
    Quality,
}
