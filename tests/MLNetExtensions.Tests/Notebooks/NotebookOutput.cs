namespace MLNetExtensions.Tests.Notebooks;

/// <summary>One output of a cell as the kernel formatted it: a <c>display(...)</c>, or the cell's last value; one
/// per MIME type the kernel produced (<paramref name="Text"/> is the formatted value), <paramref name="Value"/> the
/// object shown.</summary>
public sealed record NotebookOutput(int Cell, string MimeType, string Text, object? Value)
{
    public const string Html = "text/html", PlainText = "text/plain";
}
