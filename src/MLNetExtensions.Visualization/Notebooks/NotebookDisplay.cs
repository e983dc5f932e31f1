using System.Globalization;
using System.Text;

namespace MLNetExtensions.Visualization.Notebooks;

/// <summary>
/// Builds notebook outputs: PNG images inline as <c>data:</c> URIs, image strips, tables and preformatted text, each as
/// <see cref="HtmlContent"/>. Pass the result to the kernel's <c>display(...)</c> or leave it as a cell's last value.
/// </summary>
public static class NotebookDisplay
{
    /// <summary>An inline PNG image; <paramref name="width"/> (CSS pixels) scales it in the page, nearest-neighbour so
    /// small images stay sharp.</summary>
    /// <exception cref="ArgumentException">The bytes are not a PNG file.</exception>
    public static HtmlContent Image(byte[] png, int? width = null, string? caption = null)
        => new(ImageTag(png, width, caption));

    /// <summary>Several PNG images side by side (wrapping), each with an optional caption.</summary>
    public static HtmlContent Images(IEnumerable<byte[]> pngs, int? width = null, IEnumerable<string>? captions = null)
    {
        ArgumentNullException.ThrowIfNull(pngs);
        var captionList = captions?.ToList() ?? [];
        var sb = new StringBuilder("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">");
        int i = 0;
        foreach (var png in pngs)
        {
            sb.Append(ImageTag(png, width, i < captionList.Count ? captionList[i] : null));
            i++;
        }
        if (i == 0) throw new ArgumentException("No images to show.", nameof(pngs));
        return new HtmlContent(sb.Append("</div>").ToString());
    }

    /// <summary>A table with a header row; cells are escaped text, numbers formatted invariantly.</summary>
    public static HtmlContent Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<object?>> rows)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(rows);
        var sb = new StringBuilder("<table><thead><tr>");
        foreach (var h in headers) sb.Append("<th>").Append(HtmlContent.Escape(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        int r = 0;
        foreach (var row in rows)
        {
            if (row.Count != headers.Count)
                throw new ArgumentException($"Row {r} has {row.Count} cells but the table has {headers.Count} columns.", nameof(rows));
            sb.Append("<tr>");
            foreach (var cell in row)
                sb.Append("<td>").Append(HtmlContent.Escape(Convert.ToString(cell, CultureInfo.InvariantCulture) ?? "")).Append("</td>");
            sb.Append("</tr>");
            r++;
        }
        return new HtmlContent(sb.Append("</tbody></table>").ToString());
    }

    /// <summary>Monospaced text kept as it is laid out (e.g. <c>DetectionMetrics.ToString()</c>).</summary>
    public static HtmlContent Preformatted(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new HtmlContent("<pre>" + HtmlContent.Escape(text) + "</pre>");
    }

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static string ImageTag(byte[] png, int? width, string? caption)
    {
        ArgumentNullException.ThrowIfNull(png);
        if (png.Length < PngSignature.Length || !png.AsSpan(0, PngSignature.Length).SequenceEqual(PngSignature))
            throw new ArgumentException($"The {png.Length} bytes are not a PNG file (no PNG signature). Pass the bytes of a PNG, e.g. from DetectionVisualizer.Draw or TrainingChart.Png.", nameof(png));
        if (width is <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "The width must be positive.");
        string style = width is int w ? $" style=\"width:{w}px;image-rendering:pixelated\"" : "";
        string alt = HtmlContent.Escape(caption ?? "image");
        string img = $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" alt=\"{alt}\"{style}/>";
        return caption == null ? img
            : $"<figure style=\"margin:0\">{img}<figcaption>{HtmlContent.Escape(caption)}</figcaption></figure>";
    }
}
