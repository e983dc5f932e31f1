namespace MLNetExtensions.Data.Synthetic;

/// <summary>What <see cref="SyntheticShapesDataset.Write"/> generates. The defaults are the built-in dataset.</summary>
public sealed class SyntheticShapesOptions
{
    private readonly int _imageSize = 128, _train = 2000, _validation = 64, _test = 64, _maxObjects = 4, _minObjectSize = 8;
    private readonly IReadOnlyList<ShapeKind> _shapes = Enum.GetValues<ShapeKind>();

    /// <summary>Width and height of the square images, 32 to 2048 pixels (default 128).</summary>
    public int ImageSize { get => _imageSize; init => _imageSize = InRange(value, 32, 2048, nameof(ImageSize)); }

    /// <summary>Images in the <c>train</c> split (default 2000: an SSD trained on 256 stopped improving on held-out
    /// images at mAP@0.5 ≈ 0.3 while 2000 kept improving at the same number of steps; writing them takes seconds).</summary>
    public int TrainImages { get => _train; init => _train = InRange(value, 0, 1_000_000, nameof(TrainImages)); }

    /// <summary>Images in the <c>val</c> split (default 64).</summary>
    public int ValidationImages { get => _validation; init => _validation = InRange(value, 0, 1_000_000, nameof(ValidationImages)); }

    /// <summary>Images in the <c>test</c> split (default 64).</summary>
    public int TestImages { get => _test; init => _test = InRange(value, 0, 1_000_000, nameof(TestImages)); }

    /// <summary>The object classes, in class-index order (default: all of <see cref="ShapeKind"/>).</summary>
    public IReadOnlyList<ShapeKind> Shapes
    {
        get => _shapes;
        init
        {
            ArgumentNullException.ThrowIfNull(value, nameof(Shapes));
            if (value.Count == 0) throw new ArgumentException("Give at least one shape.", nameof(Shapes));
            if (value.Distinct().Count() != value.Count) throw new ArgumentException($"Shapes repeat: {string.Join(", ", value)}.", nameof(Shapes));
            foreach (var kind in value)
                if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(Shapes), kind, "Unknown shape.");
            _shapes = value.ToArray();
        }
    }

    /// <summary>The seed: the same options give byte-identical files (default 1).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Each image has 1 to this many objects, fewer when there is no room (default 4).</summary>
    public int MaxObjectsPerImage { get => _maxObjects; init => _maxObjects = InRange(value, 1, 50, nameof(MaxObjectsPerImage)); }

    /// <summary>The smallest object diameter in pixels, at least 8 (default 8). The largest is 80% of the image.</summary>
    public int MinObjectSize { get => _minObjectSize; init => _minObjectSize = InRange(value, 8, 1024, nameof(MinObjectSize)); }

    /// <summary>The class names, lower-case shape names in <see cref="Shapes"/> order.</summary>
    public IReadOnlyList<string> ClassNames => Shapes.Select(s => s.ToString().ToLowerInvariant()).ToArray();

    /// <summary>A text that changes whenever anything that affects the generated files changes.</summary>
    internal string Fingerprint(int generatorVersion)
        => $"synthetic-shapes v{generatorVersion}; size={ImageSize}; train={TrainImages}; val={ValidationImages}; test={TestImages}; " +
           $"shapes={string.Join(",", Shapes)}; seed={Seed}; max-objects={MaxObjectsPerImage}; min-size={MinObjectSize}";

    private static int InRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        return value;
    }
}
