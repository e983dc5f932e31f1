namespace MLNetExtensions.Transforms.Internal;

/// <summary>Option checks shared by the image transforms' Options constructors.</summary>
internal static class MaskColumns
{
    /// <summary>A mask needs both size columns, and size columns make no sense without a mask.</summary>
    public static void Check(string? mask, string? width, string? height)
    {
        ColumnCheck.CheckName(mask, "maskColumnName", allowNull: true);
        ColumnCheck.CheckName(width, "maskWidthColumnName", allowNull: true);
        ColumnCheck.CheckName(height, "maskHeightColumnName", allowNull: true);
        if (mask != null && (width == null || height == null))
            throw new ArgumentException($"Mask column '{mask}' needs maskWidthColumnName and maskHeightColumnName (Int32 columns with its size).");
        if (mask == null && (width != null || height != null))
            throw new ArgumentException("maskWidthColumnName/maskHeightColumnName were given without maskColumnName.");
    }

    /// <summary>Output columns written by one transform must have different names, or one would hide another.</summary>
    public static void CheckDistinct(IEnumerable<string?> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in names)
            if (n != null && !seen.Add(n))
                throw new ArgumentException($"Column '{n}' is named for two different outputs; each output needs its own column.");
    }
}
