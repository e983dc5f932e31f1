using System.Text.Json;

namespace MLNetExtensions.Tests.Notebooks;

/// <summary>One cell of an .ipynb file: its kind, source text and metadata tags.</summary>
internal sealed record NotebookCell(int Index, string Kind, string Source, IReadOnlyList<string> Tags)
{
    public bool IsCode => Kind == "code";
    public bool HasTag(string tag) => Tags.Contains(tag, StringComparer.OrdinalIgnoreCase);
}

/// <summary>An nbformat 4 notebook for the .NET Interactive C# kernel, read and checked.</summary>
internal sealed class NotebookDocument
{
    public const string KernelName = ".net-csharp";

    private NotebookDocument(string path, IReadOnlyList<NotebookCell> cells) { Path = path; Cells = cells; }

    public string Path { get; }
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);
    public IReadOnlyList<NotebookCell> Cells { get; }

    /// <exception cref="InvalidDataException">Not JSON, not nbformat 4, not the C# kernel, or a malformed cell; the message names the file.</exception>
    public static NotebookDocument Load(string path)
    {
        JsonDocument json;
        try { json = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"Notebook '{path}' is not valid JSON: {e.Message}", e); }
        using (json)
        {
            var root = json.RootElement;
            if (!root.TryGetProperty("nbformat", out var format) || format.ValueKind != JsonValueKind.Number || format.GetInt32() != 4)
                throw new InvalidDataException($"Notebook '{path}' is not nbformat 4 (the \"nbformat\" field must be 4).");
            string? kernel = root.TryGetProperty("metadata", out var meta) && meta.TryGetProperty("kernelspec", out var spec)
                             && spec.TryGetProperty("name", out var name) ? name.GetString() : null;
            if (kernel != KernelName)
                throw new InvalidDataException($"Notebook '{path}' has kernelspec name '{kernel ?? "(none)"}'; it must be '{KernelName}' (.NET Interactive C#).");
            if (!root.TryGetProperty("cells", out var cellsJson) || cellsJson.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"Notebook '{path}' has no \"cells\" array.");
            var cells = new List<NotebookCell>();
            foreach (var cell in cellsJson.EnumerateArray())
            {
                int index = cells.Count;
                string kind = cell.TryGetProperty("cell_type", out var t) ? t.GetString() ?? "" : "";
                if (kind is not ("code" or "markdown" or "raw"))
                    throw new InvalidDataException($"Notebook '{path}' cell {index}: cell_type '{kind}' is not code, markdown or raw.");
                if (!cell.TryGetProperty("source", out var source))
                    throw new InvalidDataException($"Notebook '{path}' cell {index} has no \"source\".");
                string text = source.ValueKind == JsonValueKind.Array
                    ? string.Concat(source.EnumerateArray().Select(s => s.GetString()))
                    : source.GetString() ?? "";
                var tags = cell.TryGetProperty("metadata", out var m) && m.TryGetProperty("tags", out var tagArray) && tagArray.ValueKind == JsonValueKind.Array
                    ? tagArray.EnumerateArray().Select(x => x.GetString() ?? "").ToArray()
                    : [];
                if (kind == "code" && cell.TryGetProperty("metadata", out var cm) && cm.TryGetProperty("dotnet_interactive", out var di)
                    && di.TryGetProperty("language", out var lang) && lang.GetString() != "csharp")
                    throw new InvalidDataException($"Notebook '{path}' cell {index} is in language '{lang.GetString()}'; only C# cells can be run.");
                cells.Add(new NotebookCell(index, kind, text, tags));
            }
            return new NotebookDocument(path, cells);
        }
    }
}
