using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// The fitted chain of stock ML.NET transforms behind a savable transform, plus its column check. The public
/// transformer forwards to it; saving writes the chain itself, so <c>mlContext.Model.Load</c> returns a
/// <see cref="TransformerChain{T}"/> of ML.NET transforms that computes the same columns.
/// </summary>
internal sealed class SavableChain
{
    private readonly ITransformer _chain;
    private readonly Action<SchemaShape> _check;

    public SavableChain(ITransformer chain, Action<SchemaShape> check)
    {
        _chain = chain;
        _check = check;
    }

    public bool IsRowToRowMapper => _chain.IsRowToRowMapper;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(Checked(inputSchema));

    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Checked(input.Schema);
        return _chain.Transform(input);
    }

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _chain.GetRowToRowMapper(Checked(inputSchema));

    public void Save(ModelSaveContext ctx) => _chain.Save(ctx);

    private DataViewSchema Checked(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        _check(SchemaShapes.Create(schema));
        return schema;
    }
}
