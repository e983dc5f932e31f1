namespace MLNetExtensions.Data.Synthetic;

/// <summary>
/// Paints clutter that is not an object: a two-colour gradient, straight lines, irregular blobs (unions of discs,
/// low-contrast so they are not mistaken for circles) and per-pixel noise.
/// </summary>
internal static class BackgroundPainter
{
    public static void Paint(byte[] rgb, int size, SplitMix64 rng)
    {
        var c0 = rng.Color();
        var c1 = rng.Color();
        double angle = rng.Uniform(0, 2 * Math.PI), cos = Math.Cos(angle), sin = Math.Sin(angle);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double t = Math.Clamp(((x - size / 2.0) * cos + (y - size / 2.0) * sin) / (size * 0.8) + 0.5, 0, 1);
                Set(rgb, y * size + x, Lerp(c0.R, c1.R, t), Lerp(c0.G, c1.G, t), Lerp(c0.B, c1.B, t));
            }

        int blobs = rng.Next(0, 4);
        for (int i = 0; i < blobs; i++)
            Blob(rgb, size, rng);
        int lines = rng.Next(0, 6);
        for (int i = 0; i < lines; i++)
            Line(rgb, size, rng);

        int amplitude = rng.Next(0, 25);
        if (amplitude > 0)
            AddNoise(rgb, rng, amplitude);
    }

    /// <summary>Adds uniform noise in [-amplitude, amplitude] to every channel of every pixel.</summary>
    public static void AddNoise(byte[] rgb, SplitMix64 rng, int amplitude)
    {
        // One 64-bit draw gives eight noise values (each byte scaled to [0, 2·amplitude] by multiply-shift).
        ulong span = (ulong)(2 * amplitude + 1);
        for (int i = 0; i < rgb.Length; i += 8)
        {
            ulong bits = rng.NextULong();
            for (int k = i; k < Math.Min(i + 8, rgb.Length); k++, bits >>= 8)
                rgb[k] = ClampByte(rgb[k] + (int)(((bits & 0xFF) * span) >> 8) - amplitude);
        }
    }

    private static void Blob(byte[] rgb, int size, SplitMix64 rng)
    {
        double cx = rng.Uniform(0, size), cy = rng.Uniform(0, size);
        var tint = rng.Color();
        int discs = rng.Next(3, 7);
        var parts = new (double X, double Y, double R)[discs];
        for (int d = 0; d < discs; d++)
            parts[d] = (cx + rng.Uniform(-size / 8.0, size / 8.0), cy + rng.Uniform(-size / 8.0, size / 8.0), rng.Uniform(size / 40.0, size / 10.0));
        var (x0, x1, y0, y1) = Clip(size,
            parts.Min(d => d.X - d.R), parts.Max(d => d.X + d.R), parts.Min(d => d.Y - d.R), parts.Max(d => d.Y + d.R));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                bool inside = false;
                foreach (var (px, py, r) in parts)
                    inside |= (x + 0.5 - px) * (x + 0.5 - px) + (y + 0.5 - py) * (y + 0.5 - py) <= r * r;
                if (!inside) continue;
                int p = 3 * (y * size + x);
                // Blend 35% of the tint: visible texture, but weaker than the objects drawn over it.
                rgb[p] = Lerp(rgb[p], tint.R, 0.35); rgb[p + 1] = Lerp(rgb[p + 1], tint.G, 0.35); rgb[p + 2] = Lerp(rgb[p + 2], tint.B, 0.35);
            }
    }

    private static void Line(byte[] rgb, int size, SplitMix64 rng)
    {
        double x0 = rng.Uniform(-size / 4.0, size * 1.25), y0 = rng.Uniform(-size / 4.0, size * 1.25);
        double x1 = rng.Uniform(-size / 4.0, size * 1.25), y1 = rng.Uniform(-size / 4.0, size * 1.25);
        double halfWidth = rng.Uniform(0.5, 1.5);
        var c = rng.Color();
        double dx = x1 - x0, dy = y1 - y0, len2 = Math.Max(dx * dx + dy * dy, 1e-9);
        var (px0, px1, py0, py1) = Clip(size,
            Math.Min(x0, x1) - halfWidth, Math.Max(x0, x1) + halfWidth, Math.Min(y0, y1) - halfWidth, Math.Max(y0, y1) + halfWidth);
        for (int y = py0; y <= py1; y++)
            for (int x = px0; x <= px1; x++)
            {
                // Distance from the pixel centre to the segment.
                double px = x + 0.5 - x0, py = y + 0.5 - y0;
                double t = Math.Clamp((px * dx + py * dy) / len2, 0, 1);
                double ex = px - t * dx, ey = py - t * dy;
                if (ex * ex + ey * ey <= halfWidth * halfWidth)
                    Set(rgb, y * size + x, c.R, c.G, c.B);
            }
    }

    /// <summary>The pixel range covering [xMin, xMax] x [yMin, yMax], clipped to the image (empty when outside).</summary>
    private static (int X0, int X1, int Y0, int Y1) Clip(int size, double xMin, double xMax, double yMin, double yMax)
        => (Math.Max(0, (int)Math.Floor(xMin)), Math.Min(size - 1, (int)Math.Ceiling(xMax)),
            Math.Max(0, (int)Math.Floor(yMin)), Math.Min(size - 1, (int)Math.Ceiling(yMax)));

    internal static void Set(byte[] rgb, int pixel, byte r, byte g, byte b)
    {
        rgb[3 * pixel] = r; rgb[3 * pixel + 1] = g; rgb[3 * pixel + 2] = b;
    }

    internal static byte Lerp(byte a, byte b, double t) => (byte)Math.Round(a + (b - a) * t);

    internal static byte ClampByte(int v) => (byte)Math.Clamp(v, 0, 255);
}
