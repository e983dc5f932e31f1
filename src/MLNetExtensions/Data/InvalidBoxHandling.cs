namespace MLNetExtensions.Data;

/// <summary>
/// What a dataset reader does with a box it cannot use: one outside its image, of zero or negative size, or of a
/// class that is not in the class list. Problems with whole files (a missing image, an unreadable annotation) always throw.
/// </summary>
public enum InvalidBoxHandling
{
    /// <summary>Stop with an <see cref="InvalidDataException"/> that names the file, the box and the problem.</summary>
    Throw,

    /// <summary>Leave the box out and report it as a warning to <c>MLContext.Log</c>.</summary>
    SkipWithWarning,
}
