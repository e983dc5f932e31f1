namespace MLNetExtensions.Detection.Rcnn;

/// <summary>The similarities one hierarchy averages (with equal weights), as the paper's combinations.</summary>
[Flags]
internal enum SimilarityMeasures
{
    Colour = 1,
    Texture = 2,
    Size = 4,
    Fill = 8,
}
