namespace MLNetExtensions.Detection.Rcnn;

/// <summary>
/// The starting regions of one segmentation: sizes, boxes, neighbour pairs and L1-normalised colour and texture
/// histograms (each over all channels together, as OpenCV normalises them).
/// </summary>
internal sealed class InitialRegions
{
    public int Count { get; private init; }
    public int ImageSize { get; private init; }
    public int[] Sizes { get; private init; } = [];

    /// <summary>Boxes as 4 ints per region: xmin, ymin, xmax, ymax, the max edges exclusive (pixel edges).</summary>
    public int[] Boxes { get; private init; } = [];

    /// <summary>Pairs (a &lt; b) of regions that touch in the 8-neighbourhood, in increasing order.</summary>
    public (int A, int B)[] Neighbours { get; private init; } = [];

    public float[] Colour { get; private init; } = [];
    public float[] Texture { get; private init; } = [];
    public int ColourLength { get; private init; }
    public int TextureLength { get; private init; }

    public static InitialRegions Build(FelzenszwalbSegments segments, RegionFeatures features)
    {
        int n = segments.Count, height = segments.Height, width = segments.Width;
        int[] labels = segments.Labels;
        var sizes = new int[n];
        var boxes = new int[4 * n];
        for (int r = 0; r < n; r++)
        {
            boxes[4 * r] = int.MaxValue; boxes[4 * r + 1] = int.MaxValue;
            boxes[4 * r + 2] = int.MinValue; boxes[4 * r + 3] = int.MinValue;
        }
        var pairs = new HashSet<long>();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int r = labels[y * width + x];
                sizes[r]++;
                int o = 4 * r;
                if (x < boxes[o]) boxes[o] = x;
                if (y < boxes[o + 1]) boxes[o + 1] = y;
                if (x + 1 > boxes[o + 2]) boxes[o + 2] = x + 1;
                if (y + 1 > boxes[o + 3]) boxes[o + 3] = y + 1;
                // Right, down-left, down and down-right: every 8-neighbour pair once.
                if (x + 1 < width) AddPair(r, labels[y * width + x + 1]);
                if (y + 1 < height)
                {
                    int below = (y + 1) * width + x;
                    if (x > 0) AddPair(r, labels[below - 1]);
                    AddPair(r, labels[below]);
                    if (x + 1 < width) AddPair(r, labels[below + 1]);
                }
            }
        }
        var neighbours = pairs.Select(p => ((int)(p >> 32), (int)(p & 0xFFFFFFFF))).ToArray();
        Array.Sort(neighbours);

        int channels = features.Channels;
        int colourLength = features.ColourLength, textureLength = features.TextureLength;
        var colour = new float[n * colourLength];
        var texture = new float[n * textureLength];
        const int orientations = RegionFeatures.Orientations, textureBins = RegionFeatures.TextureBins;
        for (int p = 0; p < labels.Length; p++)
        {
            int r = labels[p];
            int colourRow = r * colourLength, textureRow = r * textureLength;
            for (int c = 0; c < channels; c++)
            {
                colour[colourRow + c * RegionFeatures.ColourBins + features.Colour[p * channels + c]]++;
                int t = (p * channels + c) * orientations;
                for (int o = 0; o < orientations; o++)
                    texture[textureRow + (c * orientations + o) * textureBins + features.Texture[t + o]]++;
            }
        }
        for (int r = 0; r < n; r++)
        {
            Normalise(colour.AsSpan(r * colourLength, colourLength), sizes[r] * channels);
            Normalise(texture.AsSpan(r * textureLength, textureLength), sizes[r] * channels * orientations);
        }
        return new InitialRegions
        {
            Count = n, ImageSize = height * width, Sizes = sizes, Boxes = boxes, Neighbours = neighbours,
            Colour = colour, Texture = texture, ColourLength = colourLength, TextureLength = textureLength,
        };

        void AddPair(int a, int b)
        {
            if (a == b) return;
            if (a > b) (a, b) = (b, a);
            pairs.Add(((long)a << 32) | (uint)b);
        }
    }

    private static void Normalise(Span<float> histogram, int total)
    {
        float inverse = 1f / total;
        for (int k = 0; k < histogram.Length; k++) histogram[k] *= inverse;
    }
}
