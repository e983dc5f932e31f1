namespace MLNetExtensions.Boxes;

/// <summary>How the four numbers of a box are laid out in a flat <c>N×4</c> span.</summary>
public enum BoxFormat
{
    /// <summary><c>[xmin, ymin, xmax, ymax]</c>, the layout of <see cref="Data.BoundingBox"/>.</summary>
    Corners,

    /// <summary><c>[cx, cy, w, h]</c>: centre and size, the layout SSD priors are usually written in.</summary>
    CenterSize,
}
