using SkiaSharp;

namespace MLNetExtensions.Visualization;

/// <summary>
/// A typeface for labels. ImageAnalytics ships SkiaSharp's "NoDependencies" native build, which has no fontconfig,
/// so the default typeface can be empty on Linux; a DejaVu or Liberation file is loaded directly when present.
/// </summary>
internal static class Fonts
{
    private static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
        "/System/Library/Fonts/Helvetica.ttc",
    ];

    public static SKTypeface Default()
    {
        foreach (var path in Candidates)
            if (File.Exists(path) && SKTypeface.FromFile(path) is { } face)
                return face;
        return SKTypeface.FromFamilyName("sans-serif") ?? SKTypeface.Default;
    }
}
