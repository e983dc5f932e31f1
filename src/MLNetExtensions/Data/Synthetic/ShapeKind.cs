namespace MLNetExtensions.Data.Synthetic;

/// <summary>The object classes of the synthetic shapes dataset; the class name is the lower-case member name.</summary>
public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
    Star,
    Cross,
}
