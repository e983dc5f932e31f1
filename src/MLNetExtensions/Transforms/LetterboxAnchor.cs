namespace MLNetExtensions.Transforms;

/// <summary>Where <see cref="ResizeWithPaddingEstimator"/> places the resized image inside the padded target.</summary>
public enum LetterboxAnchor
{
    /// <summary>Centred: the padding is split between both sides (the left/top side gets the smaller half).</summary>
    Center,
    /// <summary>Top-left corner: all padding is on the right and bottom, so offsets are always 0.</summary>
    TopLeft,
}
