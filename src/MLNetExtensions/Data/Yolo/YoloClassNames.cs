namespace MLNetExtensions.Data.Yolo;

/// <summary>Finds and reads a YOLO class-name file: one name per line, or the <c>names</c> of an Ultralytics YAML.</summary>
internal static class YoloClassNames
{
    private static readonly string[] Candidates = ["classes.txt", "obj.names", "data.yaml", "dataset.yaml"];

    /// <summary>The class-name file in the labels folder, its parent or grandparent, in <see cref="Candidates"/> order.</summary>
    public static string Find(string labelsFolder)
    {
        var searched = new List<string>();
        var dir = new DirectoryInfo(labelsFolder);
        for (int level = 0; level < 3 && dir != null; level++, dir = dir.Parent)
            foreach (var name in Candidates)
            {
                var path = Path.Combine(dir.FullName, name);
                if (File.Exists(path)) return path;
                searched.Add(path);
            }
        throw new FileNotFoundException(
            $"No class names given and no class-name file found for the labels in '{labelsFolder}'. Looked for: {string.Join(", ", searched)}. " +
            "Pass the class names, or set YoloOptions.ClassNamesFile to a classes.txt (one name per line) or data.yaml.");
    }

    /// <exception cref="InvalidDataException">The file holds no usable class list; the message names it.</exception>
    public static IReadOnlyList<string> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Class-name file '{path}' not found.", path);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var names = ext is ".yaml" or ".yml" ? YamlNames(path) : File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (names.Count == 0)
            throw new InvalidDataException($"'{path}' lists no class names. Put one name per line (or a names: list in a YAML file).");
        if (ClassList.Problem(names) is { } problem)
            throw new InvalidDataException($"'{path}': {problem} Fix the class-name file.");
        return names;
    }

    /// <summary>
    /// The <c>names</c> entry of an Ultralytics dataset YAML, in any of its three forms:
    /// <c>names: [a, b]</c>, a block list (<c>- a</c>), or a block map of indices (<c>0: a</c>).
    /// </summary>
    private static List<string> YamlNames(string path)
    {
        var lines = File.ReadAllLines(path);
        int start = Array.FindIndex(lines, l => l.TrimStart().StartsWith("names:", StringComparison.Ordinal) && Indent(l) == 0);
        if (start < 0)
            throw new InvalidDataException($"'{path}' has no top-level 'names:' entry. Add the class names as names: [a, b, ...], or pass them directly.");
        var rest = StripComment(lines[start].Trim()["names:".Length..]).Trim();
        if (rest.StartsWith('['))
        {
            // Flow list, possibly over several lines.
            var text = new System.Text.StringBuilder(rest);
            for (int i = start + 1; !text.ToString().Contains(']') && i < lines.Length; i++)
                text.Append(' ').Append(StripComment(lines[i]).Trim());
            var s = text.ToString();
            int close = s.LastIndexOf(']');
            if (close < 0)
                throw new InvalidDataException($"'{path}' line {start + 1}: the names list opened with '[' is never closed with ']'.");
            return SplitFlow(s[1..close]).Select(Unquote).Where(n => n.Length > 0).ToList();
        }
        if (rest.Length > 0)
            throw new InvalidDataException($"'{path}' line {start + 1}: 'names: {rest}' is not a list. Write names: [a, b] or one '- name' / 'index: name' per line below it.");

        var listed = new List<string>();
        var mapped = new SortedDictionary<int, string>();
        for (int i = start + 1; i < lines.Length; i++)
        {
            var line = StripComment(lines[i]);
            if (line.Trim().Length == 0) continue;
            if (Indent(line) == 0) break; // the next top-level key
            var item = line.Trim();
            if (item.StartsWith('-'))
                listed.Add(Unquote(item[1..].Trim()));
            else if (item.IndexOf(':') is int colon and > 0 && int.TryParse(item[..colon].Trim(), out int index) && index >= 0)
            {
                if (!mapped.TryAdd(index, Unquote(item[(colon + 1)..].Trim())))
                    throw new InvalidDataException($"'{path}' line {i + 1}: class index {index} appears twice under names:.");
            }
            else
                throw new InvalidDataException($"'{path}' line {i + 1}: '{item}' is neither '- name' nor 'index: name' under names:.");
        }
        if (listed.Count > 0 && mapped.Count > 0)
            throw new InvalidDataException($"'{path}': names: mixes '- name' and 'index: name' entries; use one form.");
        if (mapped.Count > 0)
        {
            if (mapped.Keys.Last() != mapped.Count - 1)
                throw new InvalidDataException($"'{path}': names: has indices {string.Join(", ", mapped.Keys)}; they must be 0 to {mapped.Count - 1} without gaps.");
            return mapped.Values.ToList();
        }
        return listed;
    }

    private static int Indent(string line) => line.Length - line.TrimStart().Length;

    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; }
            else if (c is '\'' or '"') quote = c;
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    private static IEnumerable<string> SplitFlow(string s)
    {
        var current = new System.Text.StringBuilder();
        char quote = '\0';
        foreach (char c in s)
        {
            if (quote != '\0') { if (c == quote) quote = '\0'; current.Append(c); }
            else if (c is '\'' or '"') { quote = c; current.Append(c); }
            else if (c == ',') { yield return current.ToString().Trim(); current.Clear(); }
            else current.Append(c);
        }
        yield return current.ToString().Trim();
    }

    private static string Unquote(string s)
        => s.Length >= 2 && (s[0] is '\'' or '"') && s[^1] == s[0] ? s[1..^1] : s;
}
