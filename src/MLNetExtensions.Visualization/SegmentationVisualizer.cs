using SkiaSharp;

namespace MLNetExtensions.Visualization;

/// <summary>
/// Draws a segmentation mask over its image: each class in its Pascal VOC colour (<see cref="Palette.Voc"/>),
/// semi-transparent so the image shows through; background (0) and ignored pixels (255) left as they are; and a
/// legend with the name and colour of every class present in the mask. Returned as PNG bytes.
/// </summary>
public sealed class SegmentationVisualizer
{
    private readonly IReadOnlyList<string> _classNames;

    /// <summary>Creates the visualizer.</summary>
    /// <param name="classNames">Class names, index i naming mask value i (0 = background).</param>
    /// <param name="opacity">Opacity of the mask colours, in (0, 1].</param>
    /// <param name="scale">Enlargement of the output, in (0, 16].</param>
    public SegmentationVisualizer(IReadOnlyList<string> classNames, float opacity = 0.5f, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (!(opacity > 0 && opacity <= 1)) throw new ArgumentOutOfRangeException(nameof(opacity), opacity, "The opacity must be within (0, 1].");
        if (!(scale > 0 && scale <= 16)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be within (0, 16].");
        _classNames = classNames;
        Opacity = opacity;
        Scale = scale;
    }

    public float Opacity { get; }
    public float Scale { get; }

    /// <summary>Draws <paramref name="mask"/> (row-major class indices of the image's size) over the image file.</summary>
    /// <exception cref="InvalidDataException">The image cannot be decoded; the message names the file.</exception>
    /// <exception cref="ArgumentException">The mask's size differs from the image's.</exception>
    public byte[] Draw(string imagePath, ReadOnlySpan<byte> mask)
    {
        using var bitmap = SKBitmap.Decode(imagePath)
            ?? throw new InvalidDataException($"Image '{imagePath}' cannot be decoded. Check that it is a PNG, JPEG, BMP, GIF or WebP file.");
        return Draw(bitmap, mask);
    }

    /// <summary>Draws <paramref name="mask"/> over a decoded image.</summary>
    public byte[] Draw(SKBitmap image, ReadOnlySpan<byte> mask)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (mask.Length != image.Width * image.Height)
            throw new ArgumentException($"The mask has {mask.Length} pixels but the image is {image.Width}×{image.Height} ({image.Width * image.Height}); give the mask at the image's size (PredictedMask is).", nameof(mask));

        // Blended at the image's size (mask pixel by mask pixel, so no colour bleeds across class borders), then drawn
        // scaled without smoothing.
        using var blended = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var copy = new SKCanvas(blended)) copy.DrawBitmap(image, 0, 0);
        var present = new SortedSet<int>();
        for (int i = 0; i < mask.Length; i++)
        {
            int c = mask[i];
            if (c == 0 || c == 255) continue;
            present.Add(c);
            int x = i % image.Width, y = i / image.Width;
            var under = blended.GetPixel(x, y);
            var colour = Palette.Voc(c);
            byte Mix(byte a, byte b) => (byte)Math.Round(a * (1 - Opacity) + b * Opacity);
            blended.SetPixel(x, y, new SKColor(Mix(under.Red, colour.Red), Mix(under.Green, colour.Green), Mix(under.Blue, colour.Blue), under.Alpha));
        }

        int w = (int)Math.Round(image.Width * Scale), h = (int)Math.Round(image.Height * Scale);
        using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        var target = new SKRect(0, 0, w, h);
        using (var paint = new SKPaint { FilterQuality = SKFilterQuality.None })
            canvas.DrawBitmap(blended, target, paint);
        DrawLegend(canvas, present);
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private void DrawLegend(SKCanvas canvas, IEnumerable<int> classes)
    {
        using var typeface = Fonts.Default();
        float textSize = Math.Max(9f, 8f * Scale), swatch = textSize, pad = 2;
        using var ink = new SKPaint { Color = SKColors.White, IsAntialias = true, Typeface = typeface, TextSize = textSize };
        using var back = new SKPaint { Color = new SKColor(0, 0, 0, 160), Style = SKPaintStyle.Fill };
        float y = pad;
        foreach (int c in classes)
        {
            string name = c < _classNames.Count ? _classNames[c] : $"class {c}";
            float width = swatch + 3 * pad + ink.MeasureText(name);
            canvas.DrawRect(new SKRect(0, y - pad, width + pad, y + swatch + pad), back);
            using var fill = new SKPaint { Color = Palette.Voc(c), Style = SKPaintStyle.Fill };
            canvas.DrawRect(new SKRect(pad, y, pad + swatch, y + swatch), fill);
            canvas.DrawText(name, swatch + 3 * pad, y + swatch - 1, ink);
            y += swatch + 2 * pad;
        }
    }
}
