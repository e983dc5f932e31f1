using System.Runtime.InteropServices;
using Microsoft.ML;

namespace Quickstart;

/// <summary>Fits a trainer that checkpoints; when libtorch fails mid-run, fits once more, which resumes from the last
/// checkpoint and repeats the same steps from there.</summary>
/// <remarks>
/// TorchSharp 0.107 leaves the temporary Scalars its operators make (<c>a + b</c> passes alpha = 1 as one) to the
/// finalizer thread (dotnet/TorchSharp#1434), which can, rarely, free one while a native op still reads it: libtorch then
/// throws "Expected false to be true ... toFloat". It happened once in about 40000 training steps here.
/// </remarks>
internal static class ResumingFit
{
    public static TTransformer Fit<TTransformer>(IEstimator<TTransformer> estimator, IDataView train) where TTransformer : ITransformer
    {
        try { return estimator.Fit(train); }
        catch (ExternalException ex)
        {
            Console.WriteLine();
            Console.WriteLine($"libtorch failed ({ex.Message.Split('\n')[0].Trim()}); resuming from the last checkpoint ...");
            return estimator.Fit(train);
        }
    }
}
