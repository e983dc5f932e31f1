using System.Reflection;
using Microsoft.ML;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>
/// <see cref="SchemaShape"/> from a <see cref="DataViewSchema"/>. ML.NET 5.0.1 keeps <c>SchemaShape.Create</c> and the
/// <c>SchemaShape.Column</c> constructor internal, yet an estimator must return accurate shapes (EstimatorChain.Fit
/// propagates them before fitting, and ExtractPixels reads the image size from them). This is the single place that
/// reaches the internal method, through one cached delegate; if a future ML.NET renames it, the error says so here.
/// </summary>
internal static class SchemaShapes
{
    private static readonly Func<DataViewSchema, SchemaShape> CreateShape = Bind();

    public static SchemaShape Create(DataViewSchema schema) => CreateShape(schema);

    /// <summary>The column named <paramref name="name"/>, if the shape has one.</summary>
    public static bool TryFind(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        foreach (var c in shape)
            if (c.Name == name)
            {
                column = c;
                return true;
            }
        column = default;
        return false;
    }

    private static Func<DataViewSchema, SchemaShape> Bind()
    {
        var method = typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic,
            binder: null, [typeof(DataViewSchema)], modifiers: null);
        if (method == null || method.ReturnType != typeof(SchemaShape))
            throw new MissingMethodException($"MLNetExtensions needs SchemaShapes.Create(DataViewSchema) from {typeof(SchemaShape).Assembly.GetName()} (present in Microsoft.ML 5.0.1) and did not find it; use the Microsoft.ML version this package was built against.");
        return method.CreateDelegate<Func<DataViewSchema, SchemaShape>>();
    }
}
