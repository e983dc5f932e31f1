namespace MLNetExtensions.Visualization.Notebooks;

/// <summary>
/// The .NET Interactive kernel's convention for formatters without a package reference: it looks for an attribute
/// whose type is named <c>TypeFormatterSourceAttribute</c> with a <c>FormatterSourceType</c> property (and optionally
/// <c>PreferredMimeTypes</c>), creates that type, calls its <c>CreateTypeFormatters()</c>, and uses each returned
/// object's <c>MimeType</c> property and <c>Format(object, TextWriter)</c> method.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = true)]
internal sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    public Type FormatterSourceType { get; } = formatterSourceType;

    public string[]? PreferredMimeTypes { get; set; }
}

/// <summary>Creates the formatters of <see cref="HtmlContent"/> (called by the kernel through reflection).</summary>
internal sealed class HtmlContentFormatterSource
{
    public IEnumerable<object> CreateTypeFormatters() => [new HtmlContentFormatter()];
}

/// <summary>Writes <see cref="HtmlContent"/> as <c>text/html</c>.</summary>
internal sealed class HtmlContentFormatter
{
    public const string HtmlMimeType = "text/html";

    public string MimeType => HtmlMimeType;

    public Type Type => typeof(HtmlContent);

    public bool Format(object instance, TextWriter writer)
    {
        if (instance is not HtmlContent content) return false;
        writer.Write(content.Html);
        return true;
    }
}
