namespace MLNetExtensions.Data;

/// <summary>Checks a class list given in reader options or read from a file.</summary>
internal static class ClassList
{
    /// <summary>The list, copied; <see cref="ArgumentException"/> when it is empty or has blank or repeated names.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<string> names, string parameter)
        => Problem(names) is { } problem ? throw new ArgumentException(problem, parameter) : names.ToArray();

    /// <summary>What is wrong with the list, or null.</summary>
    public static string? Problem(IReadOnlyList<string> names)
    {
        if (names.Count == 0)
            return "The class list is empty; give at least one class name.";
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i]))
                return $"Class name {i} is empty.";
            if (!first.TryAdd(names[i], i))
                return $"Class name '{names[i]}' appears twice (positions {first[names[i]]} and {i}).";
        }
        return null;
    }
}
