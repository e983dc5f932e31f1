using Microsoft.ML;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>
/// Maps pixel values in [0, 255] to [−1, 1]: x / 127.5 − 1 (the input scaling of MobileNet/Inception-style models),
/// elementwise on a vector of Single such as the output of <c>ExtractPixels</c>. Keeps the vector's known size.
/// </summary>
/// <remarks>
/// Savable: it is ML.NET's Expression transform with a fixed expression, so <c>mlContext.Model.Load</c> needs nothing
/// from this library. (An Expression rather than a CustomMapping because a loaded CustomMapping's output vector has no
/// known size, and <c>ApplyOnnxModel</c> refuses variable-length inputs.) <c>ExtractPixels(offsetImage: 127.5f,
/// scaleImage: 1 / 127.5f)</c> gives the same numbers when the pixels come straight from an image.
/// </remarks>
public sealed class ScaleToMinusOneOneEstimator : IEstimator<ScaleToMinusOneOneTransformer>
{
    internal const string Name = "ScaleToMinusOneOne";
    internal const string Expression = "x => x / 127.5 - 1";

    /// <summary>Settings of <see cref="ScaleToMinusOneOneEstimator"/>, checked when constructed.</summary>
    public sealed class Options
    {
        /// <param name="outputColumnName">The scaled vector.</param>
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

    internal ScaleToMinusOneOneEstimator(TransformsCatalog catalog, Options options)
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
        return Inner().GetOutputSchema(inputSchema);
    }

    public ScaleToMinusOneOneTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Check(SchemaShapes.Create(input.Schema));
        return new ScaleToMinusOneOneTransformer(Settings, new SavableChain(Inner().Fit(input), Check));
    }

    private void Check(SchemaShape schema)
        => ColumnCheck.Require(schema, Name, "pixels", Settings.InputColumnName, ColumnCheck.FloatVector, ColumnCheck.IsFloatVector);

    private IEstimator<ITransformer> Inner() => _catalog.Expression(Settings.OutputColumnName, Expression, Settings.InputColumnName);
}
