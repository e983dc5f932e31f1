using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace MLNetExtensions.Tests.Notebooks;

/// <summary>A cell failed: it did not compile, threw, or was expected to display something and displayed nothing.</summary>
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
/// Runs a notebook's C# cells in order the way the .NET Interactive C# kernel does: each cell is a Roslyn script
/// submission continuing the previous one's state (<c>CSharpScript.RunAsync</c>, then <c>ContinueWithAsync</c>), so
/// variables, usings and types carry over. A cell's last expression value and every <c>display(...)</c> call are its
/// outputs (as in the kernel), and so is text written to the console. The kernel's magic commands are translated:
/// <c>#r "nuget: Name, Version"</c> references the freshly built <c>Name.dll</c> (and what it references) next to the
/// tests, checking the version (for a package not built here, one the tests reference, its product version);
/// <c>#i "nuget: folder"</c> (a package source) is dropped; <c>#!csharp</c> and
/// <c>#!time</c> are dropped; any other <c>#!</c> command fails, since this runner cannot do what it asks.
/// A cell tagged <c>parameters</c> (papermill's convention) may be followed by injected assignments; a cell tagged
/// <c>expects-display</c>, or holding the comment <c>// expects-display</c>, fails when it shows nothing.
/// </summary>
public sealed class NotebookRunner
{
    public const string ParametersTag = "parameters", ExpectsDisplayTag = "expects-display";

    // The C# kernel imports these in every submission.
    private static readonly string[] KernelImports = ["System", "System.Collections.Generic", "System.Linq", "System.Text", "System.Threading.Tasks"];

    private static readonly Regex NugetReference = new(@"^\s*#r\s+""nuget:\s*(?<name>[A-Za-z0-9_.\-]+)\s*(,\s*(?<version>[^""]+?))?\s*""\s*$");
    private static readonly Regex PackageSource = new(@"^\s*#i\s+""nuget:\s*[^""]+""\s*$");
    private static readonly Regex Magic = new(@"^\s*#!(?<name>\S+)");

    /// <summary>Values assigned right after the <c>parameters</c> cell: name → C# expression.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the built assemblies are (default: next to the tests).</summary>
    public string AssemblyFolder { get; init; } = AppContext.BaseDirectory;

    public async Task<NotebookRunResult> RunAsync(string notebookPath)
    {
        var notebook = NotebookDocument.Load(notebookPath);
        var globals = new NotebookGlobals();
        var console = new Dictionary<int, string>();
        var times = new Dictionary<int, TimeSpan>();
        var options = ScriptOptions.Default
            .WithImports(KernelImports)
            .WithReferences(typeof(object).Assembly, typeof(Enumerable).Assembly, typeof(Console).Assembly)
            .WithLanguageVersion(Microsoft.CodeAnalysis.CSharp.LanguageVersion.Latest)
            .WithEmitDebugInformation(true);
        ScriptState<object>? state = null;
        bool parametersSeen = false;

        foreach (var cell in notebook.Cells.Where(c => c.IsCode))
        {
            var (code, references) = Translate(notebook, cell);
            if (references.Count > 0) options = options.AddReferences(references);
            state = await RunCell(notebook, cell, code, options, state, globals, console, times);
            if (cell.HasTag(ParametersTag))
            {
                parametersSeen = true;
                if (Parameters.Count > 0)
                    state = await RunCell(notebook, cell, InjectedParameters(notebook, cell), options, state, globals, console, times);
            }
        }
        if (Parameters.Count > 0 && !parametersSeen)
            throw new NotebookCellException($"{notebook.Name}: parameters were given but no cell is tagged '{ParametersTag}'.");
        return new NotebookRunResult(notebook.Name, globals.Outputs.ToList(), console, times);
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

    private static async Task<ScriptState<object>> RunCell(NotebookDocument notebook, NotebookCell cell, string code, ScriptOptions options,
        ScriptState<object>? state, NotebookGlobals globals, Dictionary<int, string> console, Dictionary<int, TimeSpan> times)
    {
        globals.CurrentCell = cell.Index;
        int outputsBefore = globals.Outputs.Count;
        var original = Console.Out;
        using var captured = new StringWriter();
        Console.SetOut(captured);
        var clock = Stopwatch.StartNew();
        try
        {
            state = state == null
                ? await CSharpScript.RunAsync(code, options, globals, typeof(NotebookGlobals))
                : await state.ContinueWithAsync(code, options);
        }
        catch (CompilationErrorException e)
        {
            throw new NotebookCellException($"{notebook.Name} cell {cell.Index} does not compile:{Environment.NewLine}{string.Join(Environment.NewLine, e.Diagnostics)}", e);
        }
        catch (Exception e)
        {
            throw new NotebookCellException($"{notebook.Name} cell {cell.Index} threw {e.GetType().Name}: {e.Message}", e);
        }
        finally
        {
            Console.SetOut(original);
            times[cell.Index] = times.GetValueOrDefault(cell.Index) + clock.Elapsed;
            string text = captured.ToString();
            if (text.Length > 0)
            {
                console[cell.Index] = console.GetValueOrDefault(cell.Index, "") + text;
                original.Write(text.Length > 4000 ? text[..2000] + "\n...\n" + text[^2000..] : text);
            }
        }
        if (state.ReturnValue is { } value)
            globals.Outputs.Add(NotebookOutput.Format(cell.Index, value));

        bool shown = globals.Outputs.Count > outputsBefore || console.ContainsKey(cell.Index);
        bool expected = cell.HasTag(ExpectsDisplayTag) || cell.Source.Contains("// " + ExpectsDisplayTag, StringComparison.Ordinal);
        if (expected && !shown)
            throw new NotebookCellException($"{notebook.Name} cell {cell.Index} is expected to display something ('{ExpectsDisplayTag}') but displayed nothing: " +
                                            "end it with a value, call display(...), or write to the console.");
        return state;
    }

    /// <summary>The cell's code with the kernel's magic commands replaced, and the assemblies its <c>#r "nuget:"</c> lines stand for.</summary>
    internal (string Code, List<Assembly> References) Translate(NotebookDocument notebook, NotebookCell cell)
    {
        var references = new List<Assembly>();
        var code = new StringBuilder();
        var lines = cell.Source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            string where = $"{notebook.Name} cell {cell.Index} line {i + 1}";
            if (NugetReference.Match(line) is { Success: true } r)
            {
                references.AddRange(BuiltPackage(r.Groups["name"].Value, r.Groups["version"].Success ? r.Groups["version"].Value : null, where));
                code.AppendLine(); // keep line numbers
            }
            else if (PackageSource.IsMatch(line))
                code.AppendLine();
            else if (Magic.Match(line) is { Success: true } m)
            {
                if (m.Groups["name"].Value is not ("csharp" or "time"))
                    throw new NotebookCellException($"{where}: magic command '#!{m.Groups["name"].Value}' is not supported by the notebook runner; use C# or #r \"nuget: ...\".");
                code.AppendLine();
            }
            else if (line.TrimStart().StartsWith("#r \"nuget:", StringComparison.Ordinal))
                throw new NotebookCellException($"{where}: cannot read the package reference '{line.Trim()}'; write #r \"nuget: Name, Version\".");
            else
                code.AppendLine(line);
        }
        return (code.ToString(), references);
    }

    /// <summary>The freshly built assembly of a package of this repository, and every assembly it references (what a
    /// package restore would bring).</summary>
    private List<Assembly> BuiltPackage(string name, string? version, string where)
    {
        var file = Path.Combine(AssemblyFolder, name + ".dll");
        if (!File.Exists(file))
            throw new NotebookCellException($"{where}: package '{name}' is not built by this repository (no {name}.dll in {AssemblyFolder}).");
        var assemblyName = AssemblyName.GetAssemblyName(file);
        if (!name.StartsWith("MLNetExtensions", StringComparison.Ordinal))
        {
            // A package from the feed that the test project references too (e.g. the ImageNet weights): its assembly
            // version is not the package's, the informational (product) version is.
            var product = System.Diagnostics.FileVersionInfo.GetVersionInfo(file).ProductVersion?.Split('+')[0];
            if (version != null && product != version)
                throw new NotebookCellException($"{where}: the notebook asks for {name} {version} but the tests reference {product}; update the #r line.");
        }
        else if (version != null && (!Version.TryParse(version, out var wanted) || Normalize(wanted) != assemblyName.Version))
            throw new NotebookCellException($"{where}: the notebook asks for {name} {version} but the built assembly is {assemblyName.Version}; update the #r line.");
        var result = new List<Assembly>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<AssemblyName>([assemblyName]);
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            if (!seen.Add(next.Name!)) continue;
            Assembly assembly;
            try { assembly = Assembly.Load(next); }
            catch (FileNotFoundException) { continue; } // an optional dependency not shipped (as a restore would leave it out)
            if (string.IsNullOrEmpty(assembly.Location)) continue;
            result.Add(assembly);
            foreach (var dependency in assembly.GetReferencedAssemblies()) pending.Push(dependency);
        }
        return result;
    }

    private static Version Normalize(Version v) => new(v.Major, v.Minor, Math.Max(0, v.Build), Math.Max(0, v.Revision));
}
