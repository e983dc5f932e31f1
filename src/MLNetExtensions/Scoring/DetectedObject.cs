namespace MLNetExtensions.Scoring;

/// <summary>One detection: the class name, its score and the box corners in pixels of the original image.</summary>
/// <param name="Label">The class name.</param>
/// <param name="Score">The class probability after NMS, in [0, 1].</param>
/// <param name="XMin">Left edge, pixels.</param>
/// <param name="YMin">Top edge, pixels.</param>
/// <param name="XMax">Right edge, pixels.</param>
/// <param name="YMax">Bottom edge, pixels.</param>
public sealed record DetectedObject(string Label, float Score, float XMin, float YMin, float XMax, float YMax);
