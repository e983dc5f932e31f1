namespace MLNetExtensions.Detection.Rcnn;

/// <summary>The label map of a <see cref="FelzenszwalbSegmentation"/>.</summary>
/// <param name="Labels">Height×Width segment labels, row-major, in 0 .. <paramref name="Count"/> − 1; segments are
/// numbered in the raster order of their first pixel (as skimage numbers them).</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Count">Number of segments.</param>
public sealed record FelzenszwalbSegments(int[] Labels, int Height, int Width, int Count)
{
    /// <summary>The label of the pixel in row <paramref name="y"/>, column <paramref name="x"/>.</summary>
    public int this[int y, int x] => Labels[y * Width + x];
}
