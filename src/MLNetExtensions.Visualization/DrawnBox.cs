namespace MLNetExtensions.Visualization;

/// <summary>A box to draw: pixels of the image, 0-based class, and a score (null for ground truth).</summary>
public readonly record struct DrawnBox(float XMin, float YMin, float XMax, float YMax, int ClassIndex, float? Score = null);
