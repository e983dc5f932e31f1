using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// The columns an image transform reads and writes. The image goes from <see cref="InputImage"/> to
/// <see cref="OutputImage"/>; boxes, per-box columns (labels, difficult flags) and the mask with its size are
/// rewritten in place, so they can never be paired with the wrong image.
/// </summary>
internal sealed record SampleColumns(
    string OutputImage, string InputImage, string? Boxes, IReadOnlyList<string> PerBox,
    string? Mask, string? MaskWidth, string? MaskHeight);

/// <summary>One row's image and annotations while an image transform works on it.</summary>
internal sealed class DetectionSample
{
    public required ImagePixels Image { get; set; }
    /// <summary>N×4 box values, or null when the transform has no boxes column.</summary>
    public float[]? Boxes { get; set; }
    /// <summary>For each remaining box, the index of the input box it came from; null while every box is kept in order.</summary>
    public int[]? Kept { get; set; }
    public byte[]? Mask { get; set; }
    public int MaskWidth { get; set; }
    public int MaskHeight { get; set; }
    /// <summary>Values of the operation's extra scalar output columns (<see cref="SampleOperation.ExtraColumns"/>).</summary>
    public float[] Extras { get; set; } = [];

    /// <summary>Drops boxes: <paramref name="kept"/> indexes the current boxes and replaces them with <paramref name="boxes"/>.</summary>
    public void KeepBoxes(float[] boxes, int[] kept)
    {
        Kept = Kept == null ? kept : kept.Select(i => Kept[i]).ToArray();
        Boxes = boxes;
    }
}

/// <summary>Where a row is, for random seeds and error messages.</summary>
internal readonly record struct RowContext(long Position, DataViewRowId Id);

/// <summary>What an image transform does to one sample: the only part that differs between them.</summary>
internal abstract class SampleOperation
{
    /// <summary>The transform's name, used in every error message.</summary>
    public abstract string Name { get; }

    /// <summary>Names of extra Single columns the operation writes (in <see cref="DetectionSample.Extras"/> order).</summary>
    public virtual IReadOnlyList<string> ExtraColumns => [];

    /// <summary>The output image column type given the input's: a known size lets <c>ExtractPixels</c> follow directly.</summary>
    public abstract ImageDataViewType OutputImageType(ImageDataViewType input);

    public abstract void Apply(DetectionSample sample, RowContext row);

    /// <summary>Checks the input columns and returns the output shape (for <see cref="IEstimator{T}.GetOutputSchema"/>).</summary>
    public SchemaShape OutputShape(SchemaShape input, SampleColumns columns)
    {
        var image = ColumnCheck.Require(input, Name, "image", columns.InputImage, ColumnCheck.Image, ColumnCheck.IsImage);
        var added = new List<SchemaShape.Column>
        {
            ColumnCheck.ShapeOf(columns.OutputImage, OutputImageType((ImageDataViewType)image.ItemType)),
        };
        if (columns.Boxes != null)
        {
            ColumnCheck.Require(input, Name, "boxes", columns.Boxes, ColumnCheck.BoxVector, ColumnCheck.IsFloatVector);
            added.Add(ColumnCheck.ShapeOf(columns.Boxes, new VectorDataViewType(NumberDataViewType.Single)));
        }
        foreach (var name in columns.PerBox)
        {
            var c = ColumnCheck.Require(input, Name, "per-box", name, ColumnCheck.PerBoxVector, ColumnCheck.IsVector);
            // Dropping boxes changes the length: a known-size vector becomes variable, annotations (class names) stay.
            added.Add(c.Kind == SchemaShape.Column.VectorKind.VariableVector
                ? c : ColumnCheck.ShapeOf(name, new VectorDataViewType((PrimitiveDataViewType)c.ItemType)));
        }
        if (columns.Mask != null)
        {
            ColumnCheck.Require(input, Name, "mask", columns.Mask, ColumnCheck.ByteVector, ColumnCheck.IsByteVector);
            ColumnCheck.Require(input, Name, "mask width", columns.MaskWidth!, ColumnCheck.Int32Scalar, ColumnCheck.IsInt32);
            ColumnCheck.Require(input, Name, "mask height", columns.MaskHeight!, ColumnCheck.Int32Scalar, ColumnCheck.IsInt32);
            added.Add(ColumnCheck.ShapeOf(columns.Mask, new VectorDataViewType(NumberDataViewType.Byte)));
            added.Add(ColumnCheck.ShapeOf(columns.MaskWidth!, NumberDataViewType.Int32));
            added.Add(ColumnCheck.ShapeOf(columns.MaskHeight!, NumberDataViewType.Int32));
        }
        foreach (var name in ExtraColumns)
            added.Add(ColumnCheck.ShapeOf(name, NumberDataViewType.Single));
        return ColumnCheck.With(input, added);
    }
}
