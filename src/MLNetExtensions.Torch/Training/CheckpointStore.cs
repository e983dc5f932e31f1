using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>What a checkpoint holds besides the weights: where training was and what it had learned so far.</summary>
public sealed record CheckpointState(int Step, int Epoch, string Fingerprint, Dictionary<string, List<double>> Losses,
    List<double[]> Validation, double? BestMetric, int EpochsWithoutImprovement);

/// <summary>
/// Atomic training checkpoints in a folder: each is written into a temporary folder, flushed to the disk and renamed into
/// place, and the <c>latest.json</c> pointer is replaced the same way, so a run killed at any moment (or a machine that
/// loses power) leaves the previous checkpoint whole. Not thread-safe: one run writes a folder at a time.
/// </summary>
public sealed class CheckpointStore
{
    private const string LatestFile = "latest.json", AverageFile = "average.bin", BestFile = "best.onnx";
    private readonly int _keepLast;

    public CheckpointStore(string folder, int keepLast = 2)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "Keep at least one checkpoint.");
        Folder = Path.GetFullPath(folder);
        _keepLast = keepLast;
    }

    public string Folder { get; }

    /// <summary>Test-only: the free bytes reported for the folder (null: the disk's own figure).</summary>
    internal static Func<string, long>? FreeSpaceForTests { get; set; }

    /// <summary>Test-only: called after each file of a checkpoint is written into its temporary folder, before it is
    /// published (the kill test slows writes here so that kills land inside them). Null in every normal run.</summary>
    internal static Action<string>? WritingForTests { get; set; }

    /// <summary>
    /// Checks before the first step that checkpoints can be written: the folder can be made, a file in it written,
    /// flushed and removed, and its disk has room for <paramref name="checkpointBytes"/> per checkpoint kept plus the one
    /// being written. Throws <see cref="IOException"/> naming the folder and the options that fix it.
    /// </summary>
    public void EnsureWritable(long checkpointBytes)
    {
        const string fix = "Set CheckpointFolder to a writable folder with room, or EnableCheckpoints = false to train without checkpoints (a crash then loses the run).";
        string probe = Path.Combine(Folder, $".probe-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Folder);
            using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(new byte[4096]);
                stream.Flush(flushToDisk: true);
            }
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new IOException($"The checkpoint folder '{Folder}' cannot be written ({ex.GetType().Name}: {ex.Message}). {fix}", ex);
        }
        long needed = checkpointBytes * (_keepLast + 1);
        long free = FreeSpaceForTests?.Invoke(Folder) ?? new DriveInfo(Folder).AvailableFreeSpace;
        if (free < needed)
            throw new IOException($"The checkpoint folder '{Folder}' has {Megabytes(free)} MB free, but its checkpoints need about {Megabytes(needed)} MB ({_keepLast} kept and one being written, {Megabytes(checkpointBytes)} MB each). Free space on that disk, or {fix[0..1].ToLowerInvariant()}{fix[1..]}");
    }

    private static string Megabytes(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Saves weights, optimizer state, the weights' moving average when there is one, and <paramref name="state"/>;
    /// returns the checkpoint's folder. Every file and the temporary folder are flushed to the disk before the rename that
    /// publishes them, and the folder after it, so neither a killed process nor a power cut leaves a half-written
    /// checkpoint behind a published name.</summary>
    public string Save(nn.Module model, optim.Optimizer optimizer, CheckpointState state, nn.Module? average = null)
    {
        Directory.CreateDirectory(Folder);
        string name = $"step-{state.Step:D8}";
        string final = Path.Combine(Folder, name);
        string tmp = Path.Combine(Folder, $".tmp-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        Write(tmp, "model.bin", p => model.save(p));
        if (average != null) Write(tmp, AverageFile, p => average.save(p));
        if (optimizer is TorchSharp.Modules.OptimizerHelper helper) Write(tmp, "optimizer.bin", p => helper.save_state_dict(p));
        Write(tmp, "state.json", path => File.WriteAllText(path, JsonSerializer.Serialize(state)));
        DurableFiles.SyncFilesAndFolder(tmp);
        // A checkpoint of this step that a killed run published without pointing latest.json at it: moved aside whole.
        if (Directory.Exists(final)) Directory.Move(final, Path.Combine(Folder, $".tmp-{name}-{Guid.NewGuid():N}"));
        Directory.Move(tmp, final);
        DurableFiles.SyncFolder(Folder);
        DurableFiles.WriteAtomically(Path.Combine(Folder, LatestFile), JsonSerializer.SerializeToUtf8Bytes(new { checkpoint = name }));
        Prune(name);
        return final;
    }

    private static void Write(string folder, string file, Action<string> write)
    {
        string path = Path.Combine(folder, file);
        write(path);
        WritingForTests?.Invoke(path);
    }

    /// <summary>
    /// Loads the latest checkpoint into <paramref name="model"/>, <paramref name="optimizer"/> and the moving average
    /// <paramref name="average"/> when given; null when the folder has none. Throws when it was made for other options
    /// (<paramref name="fingerprint"/>) or cannot be read.
    /// </summary>
    /// <remarks>A checkpoint written before the run's named settings were part of the fingerprint resumes when its network
    /// description agrees; <paramref name="warn"/> then says that the named settings were not checked.</remarks>
    public CheckpointState? TryLoadLatest(nn.Module model, optim.Optimizer optimizer, string fingerprint, nn.Module? average = null, Action<string>? warn = null)
    {
        string latest = Path.Combine(Folder, LatestFile);
        if (!File.Exists(latest)) return null;
        string dir;
        CheckpointState state;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(latest));
            dir = Path.Combine(Folder, doc.RootElement.GetProperty("checkpoint").GetString()!);
            state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(Path.Combine(dir, "state.json")))
                    ?? throw new InvalidDataException("empty state");
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"The checkpoint folder '{Folder}' cannot be read ({ex.Message}). Delete the folder to start over, or point the options at another one.", ex);
        }
        if (state.Fingerprint != fingerprint)
        {
            var differences = CheckpointFingerprint.Differences(state.Fingerprint, fingerprint);
            if (differences.Count > 0)
                throw new InvalidOperationException($"The checkpoint in '{dir}' was made with other options or data than this run: {string.Join("; ", differences)}. Use the checkpoint's options and data to resume, or another CheckpointFolder (or delete this one) to start over.");
            warn?.Invoke($"The checkpoint in '{dir}' predates the checks of the seed, schedule, length, loss, augmentation and training data; it resumes because its network agrees, and those settings are assumed unchanged.");
        }
        try
        {
            model.load(Path.Combine(dir, "model.bin"));
            average?.load(Path.Combine(dir, AverageFile));
            string opt = Path.Combine(dir, "optimizer.bin");
            if (optimizer is TorchSharp.Modules.OptimizerHelper helper && File.Exists(opt)) helper.load_state_dict(opt);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The checkpoint '{dir}' is truncated or corrupt ({ex.Message.Split('\n')[0]}). Delete it (and '{latest}') to resume from an earlier one or start over.", ex);
        }
        return state;
    }

    /// <summary>Removes the folder and everything in it (the default folder of a finished run).</summary>
    public void Delete()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }

    /// <summary>Keeps the exported model that scored best on the validation data, so that a resumed run still returns it.</summary>
    public void SaveBest(byte[] exported)
    {
        Directory.CreateDirectory(Folder);
        DurableFiles.WriteAtomically(Path.Combine(Folder, BestFile), exported);
    }

    /// <summary>The model <see cref="SaveBest"/> kept, or null when there is none.</summary>
    public byte[]? TryLoadBest()
    {
        string path = Path.Combine(Folder, BestFile);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>Removes all but the newest checkpoints and what killed runs left in temporary folders. A checkpoint is
    /// renamed to a temporary name before its files go, so a kill during the removal never leaves a half-removed
    /// <c>step-*</c> folder behind.</summary>
    private void Prune(string newest)
    {
        var old = Directory.GetDirectories(Folder, "step-*").Select(Path.GetFileName).Where(n => n != newest)
            .OrderByDescending(n => n, StringComparer.Ordinal).Skip(_keepLast - 1);
        foreach (var n in old) Directory.Move(Path.Combine(Folder, n!), Path.Combine(Folder, $".tmp-{n}-{Guid.NewGuid():N}"));
        foreach (var t in Directory.GetDirectories(Folder, ".tmp-*")) Directory.Delete(t, recursive: true);
    }
}
