namespace MLNetExtensions.Bench;

/// <summary>One benchmark: prints its figures and their ratio to a baseline it runs in the same process.</summary>
public interface IBenchmark
{
    string Name { get; }
    string Description { get; }
    void Run(TextWriter output);
}
