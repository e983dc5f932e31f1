using System.Globalization;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// What a checkpoint must agree with to be resumed, as one string: the model family's description of the network (the
/// part checkpoints have carried since the first release), then <c>|run:</c> and the named settings of the run (seed,
/// optimizer and schedule, length, loss and matching, augmentation, the training data's hash). A difference is reported
/// setting by setting. A checkpoint written before the named settings were recorded still resumes when its network
/// description matches; the named settings are then assumed unchanged and a warning says so.
/// </summary>
internal static class CheckpointFingerprint
{
    private const string RunSeparator = "|run:";

    /// <summary>The network description, then the named settings.</summary>
    public static string Compose(string network, IEnumerable<(string Name, object? Value)> settings)
        => network + RunSeparator + string.Join("|", settings.Select(s => $"{s.Name}={Format(s.Value)}"));

    /// <summary>Invariant text for a setting: numbers, null as "none", records by their members, lists item by item.</summary>
    public static string Format(object? value) => value switch
    {
        null => "none",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable items => "[" + string.Join(",", items.Cast<object?>().Select(Format)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "none",
    };

    /// <summary>Whether <paramref name="stored"/> was written before the named settings were recorded.</summary>
    public static bool IsLegacy(string stored) => !stored.Contains(RunSeparator, StringComparison.Ordinal);

    /// <summary>The network description of <paramref name="fingerprint"/>.</summary>
    public static string Network(string fingerprint)
    {
        int at = fingerprint.IndexOf(RunSeparator, StringComparison.Ordinal);
        return at < 0 ? fingerprint : fingerprint[..at];
    }

    /// <summary>Each difference between a checkpoint's fingerprint and this run's, in words; empty when they agree.</summary>
    public static List<string> Differences(string stored, string run)
    {
        var differences = new List<string>();
        string[] a = Network(stored).Split('|'), b = Network(run).Split('|');
        for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            string x = i < a.Length ? a[i] : "(nothing)", y = i < b.Length ? b[i] : "(nothing)";
            if (x != y) differences.Add($"network '{x}' in the checkpoint, '{y}' in this run");
        }
        if (IsLegacy(stored)) return differences;
        var old = Settings(stored);
        var now = Settings(run);
        foreach (var (name, value) in now)
        {
            string was = old.TryGetValue(name, out var v) ? v : "(not recorded)";
            if (was != value) differences.Add($"{name} {was} in the checkpoint, {value} in this run");
        }
        foreach (var name in old.Keys.Where(k => !now.ContainsKey(k)))
            differences.Add($"{name} {old[name]} in the checkpoint, not a setting of this run");
        return differences;
    }

    private static Dictionary<string, string> Settings(string fingerprint)
    {
        int at = fingerprint.IndexOf(RunSeparator, StringComparison.Ordinal);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (at < 0) return result;
        foreach (var part in fingerprint[(at + RunSeparator.Length)..].Split('|'))
        {
            int eq = part.IndexOf('=');
            if (eq > 0) result[part[..eq]] = part[(eq + 1)..];
        }
        return result;
    }
}
