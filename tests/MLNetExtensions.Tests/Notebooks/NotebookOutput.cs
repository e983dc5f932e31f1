using System.Collections;
using System.Reflection;

namespace MLNetExtensions.Tests.Notebooks;

/// <summary>One output of a cell, formatted as the kernel would: <c>text/html</c> when the value's type carries a
/// formatter by the kernel's convention (a <c>TypeFormatterSourceAttribute</c> matched by name), else <c>text/plain</c>.</summary>
public sealed record NotebookOutput(int Cell, string MimeType, string Text, object? Value)
{
    public const string Html = "text/html", PlainText = "text/plain";

    internal static NotebookOutput Format(int cell, object? value)
    {
        if (value != null && TryConventionFormatter(value, out var html))
            return new NotebookOutput(cell, Html, html, value);
        return new NotebookOutput(cell, PlainText, value?.ToString() ?? "<null>", value);
    }

    /// <summary>The kernel's convention-based formatter lookup, done the same way: attribute by type name, the source's
    /// <c>CreateTypeFormatters()</c>, each formatter's <c>MimeType</c> and <c>Format(object, TextWriter)</c>.</summary>
    internal static bool TryConventionFormatter(object value, out string html)
    {
        html = "";
        foreach (var attribute in value.GetType().GetCustomAttributes(true).Where(a => a.GetType().Name == "TypeFormatterSourceAttribute"))
        {
            if (attribute.GetType().GetProperty("FormatterSourceType")?.GetValue(attribute) is not Type sourceType) continue;
            var source = Activator.CreateInstance(sourceType)!;
            if (sourceType.GetMethod("CreateTypeFormatters")?.Invoke(source, null) is not IEnumerable formatters) continue;
            foreach (var formatter in formatters)
            {
                var type = formatter.GetType();
                if (type.GetProperty("MimeType")?.GetValue(formatter) as string != Html) continue;
                var format = type.GetMethod("Format", BindingFlags.Public | BindingFlags.Instance, [typeof(object), typeof(TextWriter)]);
                if (format == null) continue;
                using var writer = new StringWriter();
                if (format.Invoke(formatter, [value, writer]) is true)
                {
                    html = writer.ToString();
                    return true;
                }
            }
        }
        return false;
    }
}
