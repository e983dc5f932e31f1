namespace MLNetExtensions.Data.Coco;

/// <summary>Options of the COCO instances reader (<c>mlContext.Data.LoadFromCocoJson</c>), validated as they are set.</summary>
public sealed class CocoLoaderOptions
{
    private readonly float _boundsTolerance = 1f;

    /// <summary>
    /// What to do with an annotation whose box has zero or negative width or height, lies outside its image (beyond
    /// <see cref="BoundsTolerance"/>), or whose <c>category_id</c> is not in <c>categories</c>. Throw by default.
    /// Skipping makes the ground truth differ from what pycocotools evaluates, which keeps such boxes.
    /// </summary>
    public InvalidBoxHandling InvalidBoxes { get; init; } = InvalidBoxHandling.Throw;

    /// <summary>
    /// Pixels a box may reach past the image edge before it counts as outside the image (1 by default: COCO's
    /// float boxes often end a fraction of a pixel past the border). Must be a finite number ≥ 0.
    /// </summary>
    public float BoundsTolerance
    {
        get => _boundsTolerance;
        init
        {
            if (!float.IsFinite(value) || value < 0)
                throw new ArgumentOutOfRangeException(nameof(BoundsTolerance), value, "The bounds tolerance must be a finite number of pixels >= 0.");
            _boundsTolerance = value;
        }
    }

    /// <summary>
    /// Keep <c>iscrowd</c> annotations (with their <see cref="CocoColumns.IsCrowd"/> flag set), as COCO evaluation
    /// needs. True by default; set false for training data, where crowd regions are not objects to learn.
    /// </summary>
    public bool IncludeCrowd { get; init; } = true;

    /// <summary>Fail when an image file named in <c>images</c> does not exist under the images folder (false by
    /// default: evaluation does not need the images).</summary>
    public bool CheckImagesExist { get; init; }
}
