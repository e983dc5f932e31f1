using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;

namespace MLNetExtensions.Tests.Notebooks;

/// <summary>A cell failed: it did not compile, threw, wrote to standard error, or was expected to display something
/// and displayed nothing.</summary>
public sealed class NotebookCellException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What a run produced: every output, the console text per cell, and the time per cell.</summary>
public sealed record NotebookRunResult(string Notebook, IReadOnlyList<NotebookOutput> Outputs, IReadOnlyDictionary<int, string> Console,
    IReadOnlyDictionary<int, TimeSpan> CellTimes)
{
    public IEnumerable<NotebookOutput> Html => Outputs.Where(o => o.MimeType == NotebookOutput.Html);

    /// <summary>The PNG images inside HTML outputs (<c>data:image/png;base64,...</c>), decoded.</summary>
    public IReadOnlyList<byte[]> Images => Html
        .SelectMany(o => Regex.Matches(o.Text, "data:image/png;base64,([A-Za-z0-9+/=]+)").Select(m => Convert.FromBase64String(m.Groups[1].Value)))
        .ToList();
}

/// <summary>
/// Runs a notebook in the real .NET Interactive C# kernel, as Polyglot Notebooks does: the .ipynb is read with
/// <c>Microsoft.DotNet.Interactive.Documents</c> and each code cell is sent in order to one <see cref="CSharpKernel"/>
/// (with its kernel helpers, so <c>display(...)</c> is there) as a <see cref="SubmitCode"/>. The kernel's events are
/// the cell's outputs: <see cref="DisplayedValueProduced"/> (updated in place by <see cref="DisplayedValueUpdated"/>)
/// and <see cref="ReturnValueProduced"/>, formatted by the kernel's <c>Formatter</c>, and console text
/// (<see cref="StandardOutputValueProduced"/>). <see cref="CommandFailed"/> (a compile error, an exception, a magic
/// command the kernel does not know) and <see cref="StandardErrorValueProduced"/> fail the run naming the cell.
/// <para>The one translation: <c>#r "nuget: Name, Version"</c> becomes <c>#r "path/Name.dll"</c> of the freshly built
/// assembly next to the tests (the version checked; for a package not built here, one the tests reference, its product
/// version), and <c>#i "nuget: folder"</c> (a package source) is dropped, so the run tests this build, not a packed
/// one. The kernel resolves what the assembly references from its folder.</para>
/// A cell tagged <c>parameters</c> (papermill's convention) may be followed by a submission of injected assignments; a
/// cell tagged <c>expects-display</c>, or holding the comment <c>// expects-display</c>, fails when it shows nothing.
/// </summary>
public sealed class NotebookRunner
{
    public const string ParametersTag = "parameters", ExpectsDisplayTag = "expects-display";

    private static readonly Regex NugetReference = new(@"^\s*#r\s+""nuget:\s*(?<name>[A-Za-z0-9_.\-]+)\s*(,\s*(?<version>[^""]+?))?\s*""\s*$");
    private static readonly Regex PackageSource = new(@"^\s*#i\s+""nuget:\s*[^""]+""\s*$");

    /// <summary>Values assigned right after the <c>parameters</c> cell: name → C# expression.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the built assemblies are (default: next to the tests).</summary>
    public string AssemblyFolder { get; init; } = AppContext.BaseDirectory;

    public async Task<NotebookRunResult> RunAsync(string notebookPath)
    {
        var notebook = NotebookDocument.Load(notebookPath);
        var run = new Run(notebook);
        using var kernel = new CSharpKernel().UseKernelHelpers();
        bool parametersSeen = false;

        foreach (var cell in notebook.Cells.Where(c => c.IsCode))
        {
            int outputsBefore = run.Outputs.Count;
            await RunCell(kernel, run, cell, Translate(notebook, cell).Code);
            if (cell.HasTag(ParametersTag))
            {
                parametersSeen = true;
                if (Parameters.Count > 0) await RunCell(kernel, run, cell, InjectedParameters(notebook, cell));
            }
            bool shown = run.Outputs.Count > outputsBefore || run.Console.ContainsKey(cell.Index);
            bool expected = cell.HasTag(ExpectsDisplayTag) || cell.Source.Contains("// " + ExpectsDisplayTag, StringComparison.Ordinal);
            if (expected && !shown)
                throw new NotebookCellException($"{notebook.Name} cell {cell.Index} is expected to display something ('{ExpectsDisplayTag}') but displayed nothing: " +
                                                "end it with a value, call display(...), or write to the console.");
        }
        if (Parameters.Count > 0 && !parametersSeen)
            throw new NotebookCellException($"{notebook.Name}: parameters were given but no cell is tagged '{ParametersTag}'.");
        return new NotebookRunResult(notebook.Name, run.Outputs.Select(o => o.Output).ToList(), run.Console, run.Times);
    }

    /// <summary>What the cells produced so far; a displayed value keeps its place when it is updated.</summary>
    private sealed class Run(NotebookDocument notebook)
    {
        public NotebookDocument Notebook { get; } = notebook;
        public List<(string? ValueId, NotebookOutput Output)> Outputs { get; } = new();
        public Dictionary<int, string> Console { get; } = new();
        public Dictionary<int, TimeSpan> Times { get; } = new();
    }

    private string InjectedParameters(NotebookDocument notebook, NotebookCell cell)
    {
        var sb = new StringBuilder();
        foreach (var (name, value) in Parameters)
        {
            if (!Regex.IsMatch(cell.Source, $@"\b(var|[A-Za-z_][\w<>,.?\[\] ]*)\s+{Regex.Escape(name)}\s*="))
                throw new NotebookCellException($"{notebook.Name} cell {cell.Index}: parameter '{name}' is not declared in the '{ParametersTag}' cell.");
            sb.Append(name).Append(" = ").Append(value).AppendLine(";");
        }
        return sb.ToString();
    }

    private static async Task RunCell(CSharpKernel kernel, Run run, NotebookCell cell, string code)
    {
        string where = $"{run.Notebook.Name} cell {cell.Index}";
        var clock = Stopwatch.StartNew();
        var result = await kernel.SendAsync(new SubmitCode(code));
        run.Times[cell.Index] = run.Times.GetValueOrDefault(cell.Index) + clock.Elapsed;

        var console = new StringBuilder();
        var error = new StringBuilder();
        CommandFailed? failed = null;
        foreach (var e in result.Events)
        {
            switch (e)
            {
                case StandardOutputValueProduced o: console.Append(PlainText(o)); break;
                case StandardErrorValueProduced o: error.Append(PlainText(o)); break;
                case DisplayedValueUpdated u:
                    int shown = run.Outputs.FindIndex(o => o.ValueId == u.ValueId);
                    // The kernel (1.0.0-beta.26120.1) gives DisplayedValue.Update a display id of its own, not the shown
                    // value's, so Polyglot Notebooks cannot replace the value either: say so rather than guess.
                    if (shown < 0)
                        throw new NotebookCellException($"{where} updates a displayed value the kernel never showed under that id ({u.ValueId}): " +
                                                        "this kernel cannot update a display(...) in place; display the final value instead.");
                    run.Outputs.RemoveAll(o => o.ValueId == u.ValueId);
                    run.Outputs.InsertRange(shown, Outputs(cell, u));
                    break;
                case DisplayedValueProduced or ReturnValueProduced: run.Outputs.AddRange(Outputs(cell, (DisplayEvent)e)); break;
                case CommandFailed f: failed = f; break;
            }
        }
        if (console.Length > 0)
        {
            string text = console.ToString();
            run.Console[cell.Index] = run.Console.GetValueOrDefault(cell.Index, "") + text;
            System.Console.Write(text.Length > 4000 ? text[..2000] + "\n...\n" + text[^2000..] : text);
        }
        if (failed != null)
            throw new NotebookCellException(failed.Exception switch
            {
                CodeSubmissionCompilationErrorException => $"{where} does not compile:{Environment.NewLine}{failed.Message}",
                { } thrown => $"{where} threw {thrown.GetType().Name}: {thrown.Message}",
                null => $"{where} failed: {failed.Message}",
            }, failed.Exception);
        if (error.Length > 0)
            throw new NotebookCellException($"{where} wrote to standard error: {error}");
    }

    private static string PlainText(DisplayEvent e) => string.Concat(e.FormattedValues.Where(v => v.MimeType == NotebookOutput.PlainText).Select(v => v.Value));

    private static IEnumerable<(string?, NotebookOutput)> Outputs(NotebookCell cell, DisplayEvent e)
        => e.FormattedValues.Select(v => ((string?)e.ValueId, new NotebookOutput(cell.Index, v.MimeType, v.Value, e.Value)));

    /// <summary>The cell's code with each <c>#r "nuget:"</c> line replaced by a <c>#r</c> of the built assembly it stands
    /// for (line numbers kept), and those assemblies' paths.</summary>
    internal (string Code, List<string> References) Translate(NotebookDocument notebook, NotebookCell cell)
    {
        var references = new List<string>();
        var code = new StringBuilder();
        var lines = cell.Source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string where = $"{notebook.Name} cell {cell.Index} line {i + 1}";
            if (NugetReference.Match(line) is { Success: true } r)
            {
                string path = BuiltPackage(r.Groups["name"].Value, r.Groups["version"].Success ? r.Groups["version"].Value : null, where);
                references.Add(path);
                code.Append("#r \"").Append(path).AppendLine("\"");
            }
            else if (PackageSource.IsMatch(line))
                code.AppendLine();
            else if (line.TrimStart().StartsWith("#r \"nuget:", StringComparison.Ordinal))
                throw new NotebookCellException($"{where}: cannot read the package reference '{line.Trim()}'; write #r \"nuget: Name, Version\".");
            else
                code.AppendLine(line);
        }
        return (code.ToString(), references);
    }

    /// <summary>The freshly built assembly of a package of this repository (or of a package the tests reference), its
    /// version checked against the one the notebook asks for.</summary>
    private string BuiltPackage(string name, string? version, string where)
    {
        var file = Path.Combine(AssemblyFolder, name + ".dll");
        if (!File.Exists(file))
            throw new NotebookCellException($"{where}: package '{name}' is not built by this repository (no {name}.dll in {AssemblyFolder}).");
        if (!name.StartsWith("MLNetExtensions", StringComparison.Ordinal))
        {
            // A package from the feed that the test project references too (e.g. the ImageNet weights): its assembly
            // version is not the package's, the informational (product) version is.
            var product = FileVersionInfo.GetVersionInfo(file).ProductVersion?.Split('+')[0];
            if (version != null && product != version)
                throw new NotebookCellException($"{where}: the notebook asks for {name} {version} but the tests reference {product}; update the #r line.");
        }
        else
        {
            var built = System.Reflection.AssemblyName.GetAssemblyName(file).Version;
            if (version != null && (!Version.TryParse(version, out var wanted) || Normalize(wanted) != built))
                throw new NotebookCellException($"{where}: the notebook asks for {name} {version} but the built assembly is {built}; update the #r line.");
        }
        return file;
    }

    private static Version Normalize(Version v) => new(v.Major, v.Minor, Math.Max(0, v.Build), Math.Max(0, v.Revision));
}
