using MLNetExtensions.Scoring;
using SkiaSharp;

namespace MLNetExtensions.Visualization;

/// <summary>
/// Draws detections on an image: predicted boxes in their class colour with "class score" labels, ground truth as
/// thin dashed white boxes, returned as PNG bytes (for files, notebooks and reports).
/// </summary>
public sealed class DetectionVisualizer
{
    private readonly IReadOnlyList<string> _classNames;

    public DetectionVisualizer(IReadOnlyList<string> classNames, float lineWidth = 2f, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (!(lineWidth > 0)) throw new ArgumentOutOfRangeException(nameof(lineWidth), lineWidth, "The line width must be positive.");
        if (!(scale > 0 && scale <= 16)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The scale must be within (0, 16].");
        _classNames = classNames;
        LineWidth = lineWidth;
        Scale = scale;
    }

    public float LineWidth { get; }

    /// <summary>Enlargement of the output (small images are easier to look at twice or four times as large).</summary>
    public float Scale { get; }

    /// <summary>Draws on the image file at <paramref name="imagePath"/>.</summary>
    /// <exception cref="InvalidDataException">The image cannot be decoded; the message names the file.</exception>
    public byte[] Draw(string imagePath, IEnumerable<DrawnBox> predictions, IEnumerable<DrawnBox>? groundTruth = null)
    {
        using var bitmap = SKBitmap.Decode(imagePath)
            ?? throw new InvalidDataException($"Image '{imagePath}' cannot be decoded. Check that it is a PNG, JPEG, BMP, GIF or WebP file.");
        return Draw(bitmap, predictions, groundTruth);
    }

    /// <summary>Draws a detector's typed prediction (<c>detector.Detect(imagePath)</c>, a <c>PredictionEngine</c>'s) on the image it came from.</summary>
    /// <exception cref="ArgumentException">A predicted label is not one of this visualizer's class names.</exception>
    public byte[] Draw(string imagePath, DetectionPrediction prediction, IEnumerable<DrawnBox>? groundTruth = null)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        return Draw(imagePath, Boxes(prediction), groundTruth);
    }

    /// <summary>The boxes of a typed prediction, with the class indices of this visualizer's class names.</summary>
    /// <exception cref="ArgumentException">A predicted label is not one of this visualizer's class names.</exception>
    public IReadOnlyList<DrawnBox> Boxes(DetectionPrediction prediction)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        return prediction.Detections.Select(d =>
        {
            int index = IndexOf(d.Label);
            return index < 0
                ? throw new ArgumentException($"The predicted label '{d.Label}' is not one of the visualizer's classes ({string.Join(", ", _classNames)}).", nameof(prediction))
                : new DrawnBox(d.XMin, d.YMin, d.XMax, d.YMax, index, d.Score);
        }).ToList();
    }

    private int IndexOf(string label)
    {
        for (int i = 0; i < _classNames.Count; i++)
            if (_classNames[i] == label) return i;
        return -1;
    }

    /// <summary>Draws one image's predictions and ground truth read by <see cref="ImageDetections.Read"/>.</summary>
    public byte[] Draw(ImageDetections image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Draw(image.ImagePath, image.Predictions, image.GroundTruth);
    }

    /// <summary>Draws on a decoded image.</summary>
    public byte[] Draw(SKBitmap image, IEnumerable<DrawnBox> predictions, IEnumerable<DrawnBox>? groundTruth = null)
    {
        int w = (int)Math.Round(image.Width * Scale), h = (int)Math.Round(image.Height * Scale);
        using var surface = SKSurface.Create(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        using (var paint = new SKPaint { FilterQuality = SKFilterQuality.None })
            canvas.DrawBitmap(image, new SKRect(0, 0, w, h), paint);

        if (groundTruth != null)
        {
            using var gt = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = Math.Max(1, LineWidth / 2),
                PathEffect = SKPathEffect.CreateDash([4f, 3f], 0), IsAntialias = false };
            foreach (var b in groundTruth) canvas.DrawRect(Rect(b), gt);
        }

        using var typeface = Fonts.Default();
        float textSize = Math.Max(9f, 8f * Scale);
        foreach (var b in predictions.OrderBy(p => p.Score ?? 0))
        {
            var colour = Palette.ForClass(b.ClassIndex);
            using var stroke = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = LineWidth, IsAntialias = false };
            var rect = Rect(b);
            canvas.DrawRect(rect, stroke);
            string name = b.ClassIndex >= 0 && b.ClassIndex < _classNames.Count ? _classNames[b.ClassIndex] : $"class {b.ClassIndex}";
            string text = b.Score is float s ? $"{name} {s:0.00}" : name;
            using var ink = new SKPaint { Color = Contrasting(colour), IsAntialias = true, Typeface = typeface, TextSize = textSize };
            float textWidth = ink.MeasureText(text);
            float top = Math.Max(0, rect.Top - textSize - 2);
            // Kept inside the image: a box at the right edge has its tag shifted left rather than cut off.
            float left = Math.Max(0, Math.Min(rect.Left, w - textWidth - 4));
            using var fill = new SKPaint { Color = colour, Style = SKPaintStyle.Fill };
            canvas.DrawRect(new SKRect(left, top, left + textWidth + 4, top + textSize + 2), fill);
            canvas.DrawText(text, left + 2, top + textSize - 1, ink);
        }
        using var snapshot = surface.Snapshot();
        using var data = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private SKRect Rect(DrawnBox b) => new(b.XMin * Scale, b.YMin * Scale, b.XMax * Scale, b.YMax * Scale);

    private static SKColor Contrasting(SKColor c) => 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue > 140 ? SKColors.Black : SKColors.White;
}
