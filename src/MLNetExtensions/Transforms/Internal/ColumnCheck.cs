using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// Input column checks shared by estimators (on <see cref="SchemaShape"/>, at pipeline construction and Fit) and
/// transformers (on <see cref="DataViewSchema"/>, converted to a shape so there is one code path). Every message names
/// the transform, the column, its role, what was found and what is expected.
/// </summary>
internal static class ColumnCheck
{
    public const string FloatVector = "a vector of Single (for example the output of ExtractPixels)";
    public const string Image = "an image (MLImage, for example the output of LoadImages)";
    public const string BoxVector = "a vector of Single holding 4 values [xmin, ymin, xmax, ymax] per box";
    public const string PerBoxVector = "a vector with one value per box";
    public const string ByteVector = "a vector of Byte (mask class indices, height×width, row-major)";
    public const string Int32Scalar = "a scalar Int32";
    public const string ImagePath = "a scalar Text column holding image file paths (for example ImagePath of LoadFromPascalVoc)";

    public static SchemaShape.Column Require(SchemaShape schema, string transform, string role, string name,
        string expected, Func<SchemaShape.Column, bool> isValid)
    {
        if (!SchemaShapes.TryFind(schema, name, out var column))
            throw new ArgumentException(
                $"{transform}: input column '{name}' ({role}) was not found; it must be {expected}. " +
                $"Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (!isValid(column))
            throw new ArgumentException(
                $"{transform}: input column '{name}' ({role}) is {Describe(column)}, but it must be {expected}.");
        return column;
    }

    public static bool IsFloatVector(SchemaShape.Column c)
        => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Single && !c.IsKey;

    public static bool IsImage(SchemaShape.Column c)
        => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType is ImageDataViewType;

    public static bool IsText(SchemaShape.Column c)
        => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType is TextDataViewType;

    public static bool IsVector(SchemaShape.Column c) => c.Kind != SchemaShape.Column.VectorKind.Scalar;

    public static bool IsByteVector(SchemaShape.Column c)
        => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Byte && !c.IsKey;

    public static bool IsInt32(SchemaShape.Column c)
        => c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Int32 && !c.IsKey;

    /// <summary>The column's type: <c>Single</c>, <c>Image</c>, <c>Vector&lt;Byte&gt;</c>, <c>Vector&lt;Single, known size&gt;</c>, <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>.</summary>
    public static string Describe(SchemaShape.Column c)
    {
        // A shape keeps a key's raw type with IsKey set, not the key's range.
        string item = c.IsKey ? $"Key<{c.ItemType}>" : c.ItemType.ToString() ?? "?";
        return c.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}, known size>",
            SchemaShape.Column.VectorKind.VariableVector => $"Vector<{item}>",
            _ => item,
        };
    }

    /// <summary>The shape of one column of the given type (SchemaShape.Column has no public constructor).</summary>
    public static SchemaShape.Column ShapeOf(string name, DataViewType type)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(name, type);
        return SchemaShapes.Create(builder.ToSchema())[0];
    }

    /// <summary>The input shape with <paramref name="added"/> columns replacing or appended to it.</summary>
    public static SchemaShape With(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var result = input.ToDictionary(c => c.Name);
        foreach (var c in added) result[c.Name] = c;
        return new SchemaShape(result.Values);
    }

    public static void CheckName(string? name, string parameter, bool allowNull = false)
    {
        if (name == null && allowNull) return;
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException($"'{parameter}' must name a column.", parameter);
    }
}
