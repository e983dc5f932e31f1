using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>The fitted <see cref="AugmentDetectionEstimator"/> (stateless, seeded). Training-time only: not savable; see the estimator's remarks.</summary>
public sealed class AugmentDetectionTransformer : ITransformer
{
    private readonly AugmentOperation _op;

    internal AugmentDetectionTransformer(AugmentOperation op) => _op = op;

    /// <summary>The settings it was made with.</summary>
    public AugmentDetectionEstimator.Options Settings => _op.Options;
    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Bind(inputSchema).OutputSchema;
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView(input, Bind(input.Schema));
    }
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new MappedRowToRowMapper(Bind(inputSchema));
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw NotSavable.For(_op.Name);

    private SampleRowMapper Bind(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return SampleRowMapper.Bind(schema, _op, _op.Columns);
    }
}
