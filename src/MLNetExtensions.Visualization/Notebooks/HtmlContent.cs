using System.Net;

namespace MLNetExtensions.Visualization.Notebooks;

/// <summary>
/// A piece of HTML for a notebook output. <see cref="ToString"/> returns the HTML. In a .NET Interactive (Polyglot)
/// notebook the kernel shows it as HTML, not as a property table: the type carries a formatter source found by the
/// kernel's naming convention (<see cref="TypeFormatterSourceAttribute"/>), so this library needs no reference to
/// Microsoft.DotNet.Interactive.
/// </summary>
[TypeFormatterSource(typeof(HtmlContentFormatterSource), PreferredMimeTypes = [HtmlContentFormatter.HtmlMimeType])]
public sealed class HtmlContent
{
    /// <summary>Wraps HTML text as it is (no escaping).</summary>
    public HtmlContent(string html)
    {
        ArgumentNullException.ThrowIfNull(html);
        Html = html;
    }

    /// <summary>The HTML text.</summary>
    public string Html { get; }

    /// <summary>The HTML text, so any host that prints objects still shows something useful.</summary>
    public override string ToString() => Html;

    /// <summary>HTML-escapes plain text.</summary>
    public static string Escape(string text) => WebUtility.HtmlEncode(text);
}
