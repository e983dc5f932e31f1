using SkiaSharp;

namespace MLNetExtensions.Visualization;

/// <summary>Distinct colours for classes: the Pascal VOC colormap (bit-interleaved class index), which people
/// recognise from segmentation datasets; index 0 (black) is skipped for boxes.</summary>
public static class Palette
{
    /// <summary>The VOC colour of class index <paramref name="index"/> (0 = background).</summary>
    public static SKColor Voc(int index)
    {
        int r = 0, g = 0, b = 0, c = index;
        for (int j = 0; j < 8; j++)
        {
            r |= ((c >> 0) & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        return new SKColor((byte)r, (byte)g, (byte)b);
    }

    /// <summary>Colour for a box of the 0-based class <paramref name="classIndex"/>.</summary>
    public static SKColor ForClass(int classIndex) => Voc(classIndex + 1);
}
