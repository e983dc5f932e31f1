using Microsoft.ML;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Per-image standardization of a pixel vector (for example the output of <c>ExtractPixels</c>), as
/// <c>tf.image.per_image_standardization</c>: (x − mean) / max(stddev, 1/√N), with the mean and population standard
/// deviation over all N values of the row. Keeps the vector's type, including its known size, so
/// <c>ApplyOnnxModel</c> can follow.
/// </summary>
/// <remarks>
/// Savable: it is built from stock ML.NET transforms (CopyColumns, a stateless CustomMapping computing the two
/// statistics under contract <c>MLNetExtensions.PerImageStandardization.v1</c>, Expression and DropColumns).
/// <c>mlContext.Model.Load</c> finds the mapping through the assembly name stored in the model, in a fresh process too,
/// and returns those transforms (not this type).
/// </remarks>
public sealed class PerImageStandardizationEstimator : IEstimator<PerImageStandardizationTransformer>
{
    internal const string Name = "PerImageStandardization";

    /// <summary>Settings of <see cref="PerImageStandardizationEstimator"/>, checked when constructed.</summary>
    public sealed class Options
    {
        /// <param name="outputColumnName">The standardized vector.</param>
        /// <param name="inputColumnName">The vector of Single to read; <paramref name="outputColumnName"/> when null.</param>
        public Options(string outputColumnName, string? inputColumnName = null)
        {
            ColumnCheck.CheckName(outputColumnName, nameof(outputColumnName));
            ColumnCheck.CheckName(inputColumnName, nameof(inputColumnName), allowNull: true);
            OutputColumnName = outputColumnName;
            InputColumnName = inputColumnName ?? outputColumnName;
        }

        public string OutputColumnName { get; }
        public string InputColumnName { get; }
    }

    private readonly TransformsCatalog _catalog;

    internal PerImageStandardizationEstimator(TransformsCatalog catalog, Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        _catalog = catalog;
        Settings = options;
    }

    /// <summary>The settings it was made with.</summary>
    public Options Settings { get; }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Check(inputSchema);
        return Chain().GetOutputSchema(inputSchema);
    }

    public PerImageStandardizationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Check(SchemaShapes.Create(input.Schema));
        return new PerImageStandardizationTransformer(Settings, new SavableChain(Chain().Fit(input), Check));
    }

    private void Check(SchemaShape schema)
        => ColumnCheck.Require(schema, Name, "pixels", Settings.InputColumnName, ColumnCheck.FloatVector, ColumnCheck.IsFloatVector);

    private IEstimator<ITransformer> Chain()
    {
        const string values = PerImageStatisticsInput.ColumnName;
        const string mean = PerImageStatisticsOutput.MeanColumnName, std = PerImageStatisticsOutput.StdColumnName;
        // The CustomMapping reads a fixed column name and writes two scalars; the Expression does the elementwise
        // (x - m) / s on the original column, which keeps its known vector size.
        return _catalog.CopyColumns(values, Settings.InputColumnName)
            .Append(_catalog.CustomMapping<PerImageStatisticsInput, PerImageStatisticsOutput>(
                PerImageStatisticsFactory.Map, PerImageStatisticsFactory.ContractName))
            .Append(_catalog.Expression(Settings.OutputColumnName, "(x, m, s) => (x - m) / s", Settings.InputColumnName, mean, std))
            .Append(_catalog.DropColumns(values, mean, std));
    }
}
