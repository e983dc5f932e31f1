namespace MLNetExtensions.Data.Masks;

/// <summary>
/// The Pascal VOC colormap: the palette of VOC's segmentation PNGs, so that class index <c>i</c> is drawn in
/// <see cref="GetColor"/>(i). Index 0 (background) is black, 1 is (128, 0, 0), ..., and 255 (the "void" index,
/// <see cref="SegmentationColumns.IgnoreIndex"/>) is (224, 224, 192).
/// </summary>
/// <remarks>The VOC devkit builds it by spreading the bits of the index over R, G and B, most significant first.</remarks>
public static class VocColormap
{
    private static readonly byte[] PaletteBytes = Build();
    private static readonly Dictionary<int, byte> IndexOfColor = BuildReverse();

    /// <summary>256 RGB triples, 768 bytes: the PLTE chunk of a VOC mask.</summary>
    public static ReadOnlySpan<byte> Palette => PaletteBytes;

    /// <summary>The colour VOC draws class index <paramref name="index"/> in.</summary>
    public static (byte R, byte G, byte B) GetColor(byte index)
        => (PaletteBytes[3 * index], PaletteBytes[3 * index + 1], PaletteBytes[3 * index + 2]);

    /// <summary>The class index drawn in colour (r, g, b); false when no index has that colour.</summary>
    public static bool TryGetIndex(byte r, byte g, byte b, out byte index)
        => IndexOfColor.TryGetValue(r << 16 | g << 8 | b, out index);

    private static byte[] Build()
    {
        var palette = new byte[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            int r = 0, g = 0, b = 0, c = i;
            for (int j = 0; j < 8; j++)
            {
                r |= (c & 1) << (7 - j);
                g |= ((c >> 1) & 1) << (7 - j);
                b |= ((c >> 2) & 1) << (7 - j);
                c >>= 3;
            }
            palette[3 * i] = (byte)r; palette[3 * i + 1] = (byte)g; palette[3 * i + 2] = (byte)b;
        }
        return palette;
    }

    private static Dictionary<int, byte> BuildReverse()
    {
        var map = new Dictionary<int, byte>(256);
        for (int i = 0; i < 256; i++)
            map.TryAdd(PaletteBytes[3 * i] << 16 | PaletteBytes[3 * i + 1] << 8 | PaletteBytes[3 * i + 2], (byte)i);
        return map;
    }
}
