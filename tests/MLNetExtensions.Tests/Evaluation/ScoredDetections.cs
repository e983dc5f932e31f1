using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Tests.Evaluation;

/// <summary>One image of hand-made scored detection data: boxes <c>[xmin, ymin, xmax, ymax]</c>, 1-based class keys.</summary>
internal sealed class ScoredImage
{
    public long ImageId;
    public float[] Boxes = [];
    public uint[] Labels = [];
    public bool[] Difficult = [];
    public bool[] IsCrowd = [];
    public float[] Areas = [];
    public float[] PredictedBoxes = [];
    public uint[] PredictedLabels = [];
    public float[] Scores = [];
}

/// <summary>Builds scored detection views in the schema the evaluator reads, with key-typed label columns.</summary>
internal static class ScoredDetections
{
    public static IDataView Create(MLContext ml, string[] classNames, IEnumerable<ScoredImage> images)
    {
        var schema = SchemaDefinition.Create(typeof(ScoredImage));
        foreach (var name in new[] { nameof(ScoredImage.Boxes), nameof(ScoredImage.Areas), nameof(ScoredImage.PredictedBoxes), nameof(ScoredImage.Scores) })
            schema[name].ColumnType = new VectorDataViewType(NumberDataViewType.Single);
        foreach (var name in new[] { nameof(ScoredImage.Labels), nameof(ScoredImage.PredictedLabels) })
        {
            var column = schema[name];
            column.ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), classNames.Length));
            var names = new VBuffer<ReadOnlyMemory<char>>(classNames.Length, classNames.Select(n => n.AsMemory()).ToArray());
            column.AddAnnotation("KeyValues", names, new VectorDataViewType(TextDataViewType.Instance, classNames.Length));
        }
        return ml.Data.LoadFromEnumerable(images.ToList(), schema);
    }

    /// <summary>The data without the named columns.</summary>
    public static IDataView Without(MLContext ml, IDataView data, params string[] columns)
        => ml.Transforms.DropColumns(columns).Fit(data).Transform(data);
}
