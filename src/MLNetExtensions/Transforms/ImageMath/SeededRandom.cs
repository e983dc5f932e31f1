namespace MLNetExtensions.Transforms.ImageMath;

/// <summary>
/// SplitMix64: a small generator whose sequence is fixed by its seed on every platform and .NET version
/// (unlike <see cref="Random"/>, whose algorithm is an implementation detail). One is made per row from the
/// transform's seed and the row id, so augmentation does not depend on cursor splitting or on other rows.
/// </summary>
internal struct SeededRandom
{
    private ulong _state;

    public SeededRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one row: the seed and both halves of the row id mixed, so nearby rows are unrelated.</summary>
    public static SeededRandom ForRow(int seed, ulong rowIdHigh, ulong rowIdLow)
    {
        var mix = new SeededRandom((ulong)(uint)seed);
        ulong s = mix.NextUInt64() ^ rowIdHigh;
        mix = new SeededRandom(s);
        s = mix.NextUInt64() ^ rowIdLow;
        return new SeededRandom(new SeededRandom(s).NextUInt64());
    }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public float NextFloat(float min, float max) => (float)(min + (max - min) * NextDouble());

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive) => maxExclusive <= 1 ? 0 : (int)(NextDouble() * maxExclusive);

    public bool NextBool(double probability) => NextDouble() < probability;
}
