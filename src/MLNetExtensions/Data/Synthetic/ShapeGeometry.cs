namespace MLNetExtensions.Data.Synthetic;

/// <summary>
/// One shape instance: kind, centre, circumradius R and rotation. Every shape lies inside the circle of radius R
/// around its centre, so keeping that circle inside the image keeps the shape inside. Pixels are tested at their
/// centres (x + 0.5, y + 0.5); no anti-aliasing, so masks match pixels exactly.
/// </summary>
internal readonly struct ShapeGeometry
{
    private const double StarInnerRatio = 0.45, CrossArm = 0.95, CrossHalfWidth = 0.3;

    private readonly double _cos, _sin;
    private readonly (double X, double Y)[]? _star;

    public ShapeGeometry(ShapeKind kind, double centerX, double centerY, double radius, double rotation)
    {
        Kind = kind; CenterX = centerX; CenterY = centerY; Radius = radius;
        _cos = Math.Cos(rotation); _sin = Math.Sin(rotation);
        _star = kind == ShapeKind.Star ? StarPolygon(radius) : null;
    }

    public ShapeKind Kind { get; }
    public double CenterX { get; }
    public double CenterY { get; }
    public double Radius { get; }

    /// <summary>The pixel indices (y * width + x) the shape covers.</summary>
    public List<int> Rasterize(int width, int height)
    {
        var pixels = new List<int>();
        int x0 = Math.Max(0, (int)Math.Floor(CenterX - Radius)), x1 = Math.Min(width - 1, (int)Math.Ceiling(CenterX + Radius));
        int y0 = Math.Max(0, (int)Math.Floor(CenterY - Radius)), y1 = Math.Min(height - 1, (int)Math.Ceiling(CenterY + Radius));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (Contains(x + 0.5, y + 0.5))
                    pixels.Add(y * width + x);
        return pixels;
    }

    public bool Contains(double px, double py)
    {
        double dx = px - CenterX, dy = py - CenterY;
        // Into the shape's own frame (rotate by -rotation).
        double u = dx * _cos + dy * _sin, v = -dx * _sin + dy * _cos;
        double r = Radius;
        switch (Kind)
        {
            case ShapeKind.Circle:
                return u * u + v * v <= r * r;
            case ShapeKind.Square:
                double half = r / Math.Sqrt(2);
                return Math.Abs(u) <= half && Math.Abs(v) <= half;
            case ShapeKind.Triangle:
                // Equilateral triangle with a vertex at angle -90°: inside all three edges, each at distance R/2 from
                // the centre along the normals at 90°, 210° and 330°.
                const double s = 0.8660254037844386; // sin 60°
                return v <= r / 2 && -s * u - 0.5 * v <= r / 2 && s * u - 0.5 * v <= r / 2;
            case ShapeKind.Star:
                return InsidePolygon(_star!, u, v);
            case ShapeKind.Cross:
                double arm = CrossArm * r, w = CrossHalfWidth * r;
                return (Math.Abs(u) <= arm && Math.Abs(v) <= w) || (Math.Abs(v) <= arm && Math.Abs(u) <= w);
            default:
                throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown shape.");
        }
    }

    // Five points: vertices alternate between radius R and StarInnerRatio·R every 36°, the first pointing up.
    private static (double X, double Y)[] StarPolygon(double radius)
    {
        var points = new (double, double)[10];
        for (int k = 0; k < 10; k++)
        {
            double angle = -Math.PI / 2 + k * Math.PI / 5;
            double r = k % 2 == 0 ? radius : radius * StarInnerRatio;
            points[k] = (r * Math.Cos(angle), r * Math.Sin(angle));
        }
        return points;
    }

    // Even-odd rule: count edges a horizontal ray to the right of (x, y) crosses.
    private static bool InsidePolygon((double X, double Y)[] poly, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = poly.Length - 1; i < poly.Length; j = i++)
        {
            var (xi, yi) = poly[i];
            var (xj, yj) = poly[j];
            if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
                inside = !inside;
        }
        return inside;
    }
}
