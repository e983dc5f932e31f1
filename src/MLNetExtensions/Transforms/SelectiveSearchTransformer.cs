using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Transforms.Internal;

namespace MLNetExtensions.Transforms;

/// <summary>The fitted <see cref="SelectiveSearchEstimator"/> (stateless). Not savable; see the estimator's remarks.</summary>
public sealed class SelectiveSearchTransformer : ITransformer
{
    internal SelectiveSearchTransformer(SelectiveSearchEstimator.Options options) => Settings = options;

    /// <summary>The settings it was made with.</summary>
    public SelectiveSearchEstimator.Options Settings { get; }
    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Bind(inputSchema).OutputSchema;

    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView(input, Bind(input.Schema));
    }

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new MappedRowToRowMapper(Bind(inputSchema));

    void ICanSaveModel.Save(ModelSaveContext ctx)
        => throw new NotSupportedException(
            $"{SelectiveSearchEstimator.Name} cannot be saved with mlContext.Model.Save: it learns nothing, so save the model " +
            $"without it and append mlContext.Transforms.{SelectiveSearchEstimator.Name}(...) again after loading.");

    private SelectiveSearchRowMapper Bind(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return SelectiveSearchRowMapper.Bind(schema, Settings);
    }
}
