using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>Input of the statistics mapping; the column name is fixed because a loaded CustomMapping keeps no renaming.
/// Public only because ML.NET's CustomMapping needs it.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PerImageStatisticsInput
{
    public const string ColumnName = "__MLNetExtensions_PerImageStandardization_Values";

    [ColumnName(ColumnName), VectorType]
    public float[] Values { get; set; } = [];
}

/// <summary>Output of the statistics mapping: two scalars, so the vector arithmetic can stay in an Expression
/// transform that keeps the vector's known size (a CustomMapping output vector would lose it after loading).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PerImageStatisticsOutput
{
    public const string MeanColumnName = "__MLNetExtensions_PerImageStandardization_Mean";
    public const string StdColumnName = "__MLNetExtensions_PerImageStandardization_AdjustedStd";

    [ColumnName(MeanColumnName)]
    public float Mean { get; set; }

    [ColumnName(StdColumnName)]
    public float AdjustedStd { get; set; }
}

/// <summary>
/// The stateless factory ML.NET finds by contract name when it loads a saved model containing
/// <see cref="PerImageStandardizationEstimator"/> (the contract's assembly is recorded in the model and loaded from it).
/// Public only because ML.NET instantiates it; not meant to be used directly.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PerImageStatisticsFactory : CustomMappingFactory<PerImageStatisticsInput, PerImageStatisticsOutput>
{
    public const string ContractName = "MLNetExtensions.PerImageStandardization.v1";

    public static void Map(PerImageStatisticsInput input, PerImageStatisticsOutput output)
        => (output.Mean, output.AdjustedStd) = Standardization.Statistics(input.Values);

    public override Action<PerImageStatisticsInput, PerImageStatisticsOutput> GetMapping() => Map;
}
