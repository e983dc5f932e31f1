using System.Collections;
using System.Text.Json;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;

namespace MLNetExtensions.Tests.Notebooks;

/// <summary>One cell of an .ipynb file: its kind (<c>code</c> or <c>markdown</c>), source text and metadata tags.</summary>
internal sealed record NotebookCell(int Index, string Kind, string Source, IReadOnlyList<string> Tags)
{
    public bool IsCode => Kind == "code";
    public bool HasTag(string tag) => Tags.Contains(tag, StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// An nbformat 4 notebook for the .NET Interactive C# kernel, read as Polyglot Notebooks reads it
/// (<c>Microsoft.DotNet.Interactive.Documents.Jupyter.Notebook.Parse</c>) and checked.
/// </summary>
internal sealed class NotebookDocument
{
    public const string KernelName = ".net-csharp";

    /// <summary>The kernel name a C# cell carries in its metadata (<c>polyglot_notebook.kernelName</c> or
    /// <c>dotnet_interactive.language</c>), and the notebook's default.</summary>
    public const string CSharpKernelName = "csharp";

    private NotebookDocument(string path, IReadOnlyList<NotebookCell> cells) { Path = path; Cells = cells; }

    public string Path { get; }
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);
    public IReadOnlyList<NotebookCell> Cells { get; }

    /// <exception cref="InvalidDataException">Not JSON, not nbformat 4, not the C# kernel, or a cell in another
    /// language; the message names the file.</exception>
    public static NotebookDocument Load(string path)
    {
        string json = File.ReadAllText(path);
        // The reader takes any nbformat; the version is checked first, as Jupyter does.
        try
        {
            using var raw = JsonDocument.Parse(json);
            if (!raw.RootElement.TryGetProperty("nbformat", out var format) || format.ValueKind != JsonValueKind.Number || format.GetInt32() != 4)
                throw new InvalidDataException($"Notebook '{path}' is not nbformat 4 (the \"nbformat\" field must be 4).");
        }
        catch (JsonException e) { throw new InvalidDataException($"Notebook '{path}' is not valid JSON: {e.Message}", e); }

        InteractiveDocument document;
        try { document = Notebook.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"Notebook '{path}' cannot be read as a notebook: {e.Message}", e); }

        string? kernel = document.Metadata.TryGetValue("kernelspec", out var spec) && spec is IDictionary<string, object> specs
                         && specs.TryGetValue("name", out var name) ? name as string : null;
        if (kernel != KernelName)
            throw new InvalidDataException($"Notebook '{path}' has kernelspec name '{kernel ?? "(none)"}'; it must be '{KernelName}' (.NET Interactive C#).");

        var cells = new List<NotebookCell>();
        foreach (var element in document.Elements)
        {
            int index = cells.Count;
            string language = element.KernelName ?? CSharpKernelName;
            string kind = language == "markdown" ? "markdown" : "code";
            if (kind == "code" && language != CSharpKernelName)
                throw new InvalidDataException($"Notebook '{path}' cell {index} is in language '{language}'; only C# cells can be run.");
            var tags = element.Metadata is { } metadata && metadata.TryGetValue("tags", out var tagList) && tagList is IEnumerable list and not string
                ? list.Cast<object?>().Select(t => t as string ?? "").ToArray()
                : [];
            cells.Add(new NotebookCell(index, kind, element.Contents ?? "", tags));
        }
        return new NotebookDocument(path, cells);
    }
}
