using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>The fitted <see cref="ScaleToMinusOneOneEstimator"/>; savable (loads back as the stock ML.NET transforms it is made of).</summary>
public sealed class ScaleToMinusOneOneTransformer : ITransformer
{
    private readonly SavableChain _chain;

    internal ScaleToMinusOneOneTransformer(ScaleToMinusOneOneEstimator.Options options, SavableChain chain)
    {
        Settings = options;
        _chain = chain;
    }

    /// <summary>The settings it was made with.</summary>
    public ScaleToMinusOneOneEstimator.Options Settings { get; }
    public bool IsRowToRowMapper => _chain.IsRowToRowMapper;
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);
    public IDataView Transform(IDataView input) => _chain.Transform(input);
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _chain.GetRowToRowMapper(inputSchema);
    void ICanSaveModel.Save(ModelSaveContext ctx) => _chain.Save(ctx);
}
