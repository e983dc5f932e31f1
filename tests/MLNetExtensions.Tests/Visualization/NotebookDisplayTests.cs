using Microsoft.DotNet.Interactive.Formatting;
using MLNetExtensions.Tests.Notebooks;
using MLNetExtensions.Visualization;
using MLNetExtensions.Visualization.Notebooks;
using SkiaSharp;

namespace MLNetExtensions.Tests.Visualization;

[TestClass]
public sealed class NotebookDisplayTests
{
    private static byte[] SmallPng()
    {
        using var bitmap = new SKBitmap(3, 2);
        bitmap.Erase(SKColors.Red);
        using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [TestMethod]
    public void AnImageIsAnInlineDataUriHoldingThePngBytes()
    {
        var png = SmallPng();
        var html = NotebookDisplay.Image(png, width: 90, caption: "a <red> one").Html;
        StringAssert.StartsWith(html, "<figure");
        StringAssert.Contains(html, "style=\"width:90px;image-rendering:pixelated\"");
        StringAssert.Contains(html, "<figcaption>a &lt;red&gt; one</figcaption>");
        var result = new NotebookRunResult("t", [new NotebookOutput(0, NotebookOutput.Html, html, null)], new Dictionary<int, string>(), new Dictionary<int, TimeSpan>());
        CollectionAssert.AreEqual(png, result.Images.Single());
    }

    [TestMethod]
    public void BytesThatAreNotAPngAreRejected()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => NotebookDisplay.Image([1, 2, 3]));
        StringAssert.StartsWith(e.Message, "The 3 bytes are not a PNG file (no PNG signature).");
    }

    [TestMethod]
    public void TablesEscapeTextAndCheckRowLengths()
    {
        var html = NotebookDisplay.Table(["name", "n"], [["<b>", 1.5], ["x", null]]).Html;
        Assert.AreEqual("<table><thead><tr><th>name</th><th>n</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td>1.5</td></tr><tr><td>x</td><td></td></tr></tbody></table>", html);
        var e = Assert.ThrowsExactly<ArgumentException>(() => NotebookDisplay.Table(["a", "b"], [["only one"]]));
        StringAssert.StartsWith(e.Message, "Row 0 has 1 cells but the table has 2 columns.");
    }

    [TestMethod]
    public void TheKernelsFormatterFindsTheHtmlFormatterByConvention()
    {
        var content = NotebookDisplay.Preformatted("a < b");
        CollectionAssert.AreEqual(new[] { "text/html" }, Formatter.GetPreferredMimeTypesFor(typeof(HtmlContent)).ToArray());
        Assert.AreEqual("<pre>a &lt; b</pre>", content.ToDisplayString("text/html"));
        Assert.AreEqual(content.Html, content.ToString());
    }
}
