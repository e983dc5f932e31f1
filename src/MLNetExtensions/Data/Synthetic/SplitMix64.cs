namespace MLNetExtensions.Data.Synthetic;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014): a tiny generator whose output is fixed by its definition, so a seed gives
/// the same dataset on every .NET version (System.Random makes no such promise across implementations).
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextULong()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Uniform integer in [min, maxExclusive).</summary>
    public int Next(int min, int maxExclusive) => min + (int)(NextULong() % (ulong)(maxExclusive - min));

    public bool Chance(double probability) => NextDouble() < probability;

    public (byte R, byte G, byte B) Color() => ((byte)Next(0, 256), (byte)Next(0, 256), (byte)Next(0, 256));

    /// <summary>A generator for one item of a stream, independent of how many items come before it.</summary>
    public static SplitMix64 For(int seed, int stream, int item)
    {
        var mix = new SplitMix64((ulong)(uint)seed);
        ulong a = mix.NextULong() ^ (ulong)(uint)stream * 0xD1B54A32D192ED03UL;
        var mix2 = new SplitMix64(a);
        return new SplitMix64(mix2.NextULong() ^ (ulong)(uint)item * 0x8CB92BA72F3D8DD7UL);
    }
}
