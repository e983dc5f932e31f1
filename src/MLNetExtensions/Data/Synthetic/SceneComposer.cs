using MLNetExtensions.Data.Masks;

namespace MLNetExtensions.Data.Synthetic;

/// <summary>
/// Renders one scene: a cluttered background, then objects placed one over the other (later ones occlude earlier
/// ones), each filled with a solid, striped or noisy texture. Annotations follow VOC's guidelines: a box bounds the
/// visible part of its object; tiny or heavily occluded objects are marked difficult; the mask has a void band
/// (index 255) two pixels wide along every object border.
/// </summary>
internal static class SceneComposer
{
    private const double MinVisibleFraction = 0.35;  // placements that would hide more of an earlier object are retried
    private const int MinVisiblePixels = 16;
    private const double DifficultVisibleFraction = 0.6;
    private const int DifficultMaxSide = 10;         // objects whose box is smaller than this on both sides are difficult
    private const int PlacementTries = 30;
    private const double MaxSizeFraction = 0.8;       // the largest object spans 80% of the image

    private enum Texture { Solid, Stripes, Noise }

    public static SyntheticScene Render(SyntheticShapesOptions options, SplitMix64 rng)
    {
        int size = options.ImageSize;
        var rgb = new byte[size * size * 3];
        BackgroundPainter.Paint(rgb, size, rng);

        var instance = new int[size * size];           // 0 = background, k = k-th placed object
        var shapes = new List<(ShapeKind Kind, int Total, int Visible)>();
        int wanted = rng.Next(1, options.MaxObjectsPerImage + 1);
        for (int n = 0; n < wanted; n++)
        {
            var kind = options.Shapes[rng.Next(0, options.Shapes.Count)];
            List<int>? pixels = null;
            for (int attempt = 0; attempt < PlacementTries && pixels == null; attempt++)
            {
                // Log-uniform diameter: as many small objects as large ones per octave of size.
                double diameter = Math.Exp(rng.Uniform(Math.Log(options.MinObjectSize), Math.Log(MaxSizeFraction * size)));
                double r = diameter / 2;
                var shape = new ShapeGeometry(kind, rng.Uniform(r, size - r), rng.Uniform(r, size - r), r, rng.Uniform(0, 2 * Math.PI));
                var candidate = shape.Rasterize(size, size);
                if (candidate.Count >= MinVisiblePixels && KeepsOthersVisible(candidate, instance, shapes))
                    pixels = candidate;
            }
            if (pixels == null) continue; // no room left for this object: the image gets fewer

            int id = shapes.Count + 1;
            var hidden = new int[shapes.Count];
            foreach (int p in pixels)
            {
                if (instance[p] != 0) hidden[instance[p] - 1]++;
                instance[p] = id;
            }
            for (int k = 0; k < hidden.Length; k++)
                shapes[k] = shapes[k] with { Visible = shapes[k].Visible - hidden[k] };
            shapes.Add((kind, pixels.Count, pixels.Count));
            Fill(rgb, size, pixels, rng);
        }
        // Mild sensor noise over everything, so no object is perfectly flat.
        BackgroundPainter.AddNoise(rgb, rng, 4);

        var objects = new List<SceneObject>(shapes.Count);
        for (int k = 0; k < shapes.Count; k++)
        {
            var (x0, y0, x1, y1) = VisibleBox(instance, size, k + 1);
            double visible = (double)shapes[k].Visible / shapes[k].Total;
            bool tiny = Math.Max(x1 - x0 + 1, y1 - y0 + 1) < DifficultMaxSide;
            objects.Add(new SceneObject(shapes[k].Kind, x0, y0, x1, y1, tiny || visible < DifficultVisibleFraction, visible < 1));
        }
        return new SyntheticScene(size, rgb, BuildMask(instance, size, shapes.Select(s => ClassIndex(options, s.Kind)).ToArray()), objects);
    }

    /// <summary>The mask index of a shape: its 1-based position in the options' class list.</summary>
    private static byte ClassIndex(SyntheticShapesOptions options, ShapeKind kind)
    {
        for (int i = 0; i < options.Shapes.Count; i++)
            if (options.Shapes[i] == kind) return (byte)(i + 1);
        throw new ArgumentException($"{kind} is not among the dataset's shapes.", nameof(kind));
    }

    private static bool KeepsOthersVisible(List<int> pixels, int[] instance, List<(ShapeKind Kind, int Total, int Visible)> shapes)
    {
        if (shapes.Count == 0) return true;
        var hidden = new int[shapes.Count];
        foreach (int p in pixels)
            if (instance[p] != 0) hidden[instance[p] - 1]++;
        for (int k = 0; k < shapes.Count; k++)
        {
            int left = shapes[k].Visible - hidden[k];
            if (left < MinVisiblePixels || left < MinVisibleFraction * shapes[k].Total) return false;
        }
        return true;
    }

    private static void Fill(byte[] rgb, int size, List<int> pixels, SplitMix64 rng)
    {
        // Pick colours that stand out from the background under the object (L1 distance of the mean).
        long sr = 0, sg = 0, sb = 0;
        foreach (int p in pixels) { sr += rgb[3 * p]; sg += rgb[3 * p + 1]; sb += rgb[3 * p + 2]; }
        var under = ((int)(sr / pixels.Count), (int)(sg / pixels.Count), (int)(sb / pixels.Count));
        var color = Contrasting(under, rng, 180);
        var texture = (Texture)rng.Next(0, 3);
        switch (texture)
        {
            case Texture.Solid:
                foreach (int p in pixels) BackgroundPainter.Set(rgb, p, color.R, color.G, color.B);
                break;
            case Texture.Stripes:
                var second = Contrasting(under, rng, 120);
                double angle = rng.Uniform(0, Math.PI), cos = Math.Cos(angle), sin = Math.Sin(angle);
                double period = rng.Uniform(3, 9);
                foreach (int p in pixels)
                {
                    double t = ((p % size) * cos + (p / size) * sin) / period;
                    var c = t - Math.Floor(t) < 0.5 ? color : second;
                    BackgroundPainter.Set(rgb, p, c.R, c.G, c.B);
                }
                break;
            case Texture.Noise:
                int amplitude = rng.Next(20, 50);
                foreach (int p in pixels)
                    BackgroundPainter.Set(rgb, p,
                        BackgroundPainter.ClampByte(color.R + rng.Next(-amplitude, amplitude + 1)),
                        BackgroundPainter.ClampByte(color.G + rng.Next(-amplitude, amplitude + 1)),
                        BackgroundPainter.ClampByte(color.B + rng.Next(-amplitude, amplitude + 1)));
                break;
        }
    }

    private static (byte R, byte G, byte B) Contrasting((int R, int G, int B) under, SplitMix64 rng, int minDistance)
    {
        for (int i = 0; i < 20; i++)
        {
            var c = rng.Color();
            if (Math.Abs(c.R - under.R) + Math.Abs(c.G - under.G) + Math.Abs(c.B - under.B) >= minDistance)
                return c;
        }
        // Fall back to the complementary colour, as far from the background as a colour gets.
        return ((byte)(255 - under.R), (byte)(255 - under.G), (byte)(255 - under.B));
    }

    private static (int X0, int Y0, int X1, int Y1) VisibleBox(int[] instance, int size, int id)
    {
        int x0 = size, y0 = size, x1 = -1, y1 = -1;
        for (int p = 0; p < instance.Length; p++)
        {
            if (instance[p] != id) continue;
            int x = p % size, y = p / size;
            x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
        }
        return (x0, y0, x1, y1);
    }

    /// <summary>
    /// Class indices with VOC's void band: a pixel is void when one of its 8 neighbours belongs to another object
    /// (or object vs background), which marks one pixel on each side of every border. An object so thin that the band
    /// would swallow it keeps its pixels, so every annotated object shows its class in the mask.
    /// </summary>
    private static SegmentationMask BuildMask(int[] instance, int size, byte[] classOf)
    {
        var mask = new SegmentationMask(size, size);
        var pixels = mask.Pixels;
        var solid = new int[classOf.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int p = y * size + x, id = instance[p];
                bool border = false;
                for (int dy = -1; dy <= 1 && !border; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if (nx >= 0 && ny >= 0 && nx < size && ny < size && instance[ny * size + nx] != id) { border = true; break; }
                    }
                pixels[p] = border ? SegmentationColumns.IgnoreIndex : id == 0 ? (byte)0 : classOf[id - 1];
                if (!border && id != 0) solid[id - 1]++;
            }
        for (int k = 0; k < classOf.Length; k++)
            if (solid[k] == 0)
                for (int p = 0; p < pixels.Length; p++)
                    if (instance[p] == k + 1) pixels[p] = classOf[k];
        return mask;
    }
}
