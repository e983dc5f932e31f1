using SkiaSharp;

namespace MLNetExtensions.Visualization;

/// <summary>
/// Lays several pictures out as one PNG: rows of <c>columns</c> cells on white, each picture at its own size in the
/// top-left of a cell as large as the largest picture, with an optional caption under it. One file to put in a report
/// or README, where a ground-truth drawing and a prediction belong side by side.
/// </summary>
public static class ImageGrid
{
    /// <summary>The pictures (PNG bytes, e.g. from <see cref="DetectionVisualizer"/> or <see cref="SegmentationVisualizer"/>)
    /// laid out in rows of <paramref name="columns"/>, left to right, then top to bottom.</summary>
    /// <param name="pngs">The pictures, at least one; PNG, JPEG, BMP, GIF or WebP bytes.</param>
    /// <param name="columns">Cells per row, at least 1 (fewer when there are fewer pictures).</param>
    /// <param name="captions">One caption per picture (shown under it), or null for none.</param>
    /// <param name="gap">Pixels between cells and around the grid, 0 to 64.</param>
    /// <exception cref="ArgumentException">No pictures, a picture that cannot be decoded (named by its position), or a
    /// caption count that differs from the picture count.</exception>
    public static byte[] Png(IReadOnlyList<byte[]> pngs, int columns, IReadOnlyList<string>? captions = null, int gap = 6)
    {
        ArgumentNullException.ThrowIfNull(pngs);
        if (pngs.Count == 0) throw new ArgumentException("No pictures to lay out.", nameof(pngs));
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (gap is < 0 or > 64) throw new ArgumentOutOfRangeException(nameof(gap), gap, "The gap must be within 0..64 pixels.");
        if (captions != null && captions.Count != pngs.Count)
            throw new ArgumentException($"There are {captions.Count} captions for {pngs.Count} pictures; give one caption per picture, or none.", nameof(captions));

        var bitmaps = new List<SKBitmap>(pngs.Count);
        try
        {
            for (int i = 0; i < pngs.Count; i++)
                bitmaps.Add(Decode(pngs[i])
                    ?? throw new ArgumentException($"Picture {i} ({pngs[i]?.Length ?? 0} bytes) cannot be decoded; pass PNG bytes such as DetectionVisualizer.Draw returns.", nameof(pngs)));

            columns = Math.Min(columns, bitmaps.Count);
            int rows = (bitmaps.Count + columns - 1) / columns;
            int cellWidth = bitmaps.Max(b => b.Width), cellHeight = bitmaps.Max(b => b.Height);
            using var typeface = Fonts.Default();
            using var ink = new SKPaint { Color = new SKColor(40, 40, 40), IsAntialias = true, Typeface = typeface, TextSize = 13 };
            bool anyCaption = captions?.Any(c => !string.IsNullOrEmpty(c)) == true;
            int captionHeight = anyCaption ? (int)Math.Ceiling(ink.TextSize * 1.4f) : 0;
            int width = columns * cellWidth + (columns + 1) * gap;
            int height = rows * (cellHeight + captionHeight) + (rows + 1) * gap;

            using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
            var canvas = surface.Canvas;
            canvas.Clear(SKColors.White);
            using var paint = new SKPaint { FilterQuality = SKFilterQuality.None };
            for (int i = 0; i < bitmaps.Count; i++)
            {
                int x = gap + i % columns * (cellWidth + gap), y = gap + i / columns * (cellHeight + captionHeight + gap);
                canvas.DrawBitmap(bitmaps[i], x, y, paint);
                if (captions?[i] is { Length: > 0 } caption)
                    canvas.DrawText(Fit(caption, ink, cellWidth), x, y + bitmaps[i].Height + ink.TextSize * 1.15f, ink);
            }
            using var snapshot = surface.Snapshot();
            using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
            return data.ToArray();
        }
        finally
        {
            foreach (var b in bitmaps) b.Dispose();
        }
    }

    /// <summary>The decoded picture, or null where the bytes are no image SkiaSharp reads (its Decode throws on those).</summary>
    private static SKBitmap? Decode(byte[]? bytes)
    {
        if (bytes is not { Length: > 0 }) return null;
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        return codec == null ? null : SKBitmap.Decode(codec);
    }

    /// <summary>The caption, cut with an ellipsis where it is wider than its cell (so it never runs into the next one).</summary>
    private static string Fit(string text, SKPaint ink, int width)
    {
        if (ink.MeasureText(text) <= width) return text;
        int n = text.Length;
        while (n > 0 && ink.MeasureText(text[..n] + "…") > width) n--;
        return text[..n] + "…";
    }
}
