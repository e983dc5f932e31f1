using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>What a checkpoint holds besides the weights: where training was and what it had learned so far.</summary>
public sealed record CheckpointState(int Step, int Epoch, string Fingerprint, Dictionary<string, List<double>> Losses,
    List<double[]> Validation, double? BestMetric, int EpochsWithoutImprovement);

/// <summary>
/// Atomic training checkpoints in a folder: each is written into a temporary folder and renamed into place, and the
/// <c>latest.json</c> pointer is replaced by rename, so a run killed at any moment leaves the previous checkpoint whole.
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

    /// <summary>Saves weights, optimizer state, the weights' moving average when there is one, and <paramref name="state"/>;
    /// returns the checkpoint's folder.</summary>
    public string Save(nn.Module model, optim.Optimizer optimizer, CheckpointState state, nn.Module? average = null)
    {
        Directory.CreateDirectory(Folder);
        string name = $"step-{state.Step:D8}";
        string final = Path.Combine(Folder, name);
        string tmp = Path.Combine(Folder, $".tmp-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        model.save(Path.Combine(tmp, "model.bin"));
        average?.save(Path.Combine(tmp, AverageFile));
        if (optimizer is TorchSharp.Modules.OptimizerHelper helper) helper.save_state_dict(Path.Combine(tmp, "optimizer.bin"));
        File.WriteAllText(Path.Combine(tmp, "state.json"), JsonSerializer.Serialize(state));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(tmp, final);
        WriteAtomically(Path.Combine(Folder, LatestFile), JsonSerializer.SerializeToUtf8Bytes(new { checkpoint = name }));
        Prune(name);
        return final;
    }

    /// <summary>
    /// Loads the latest checkpoint into <paramref name="model"/>, <paramref name="optimizer"/> and the moving average
    /// <paramref name="average"/> when given; null when the folder has none. Throws when it was made for other options
    /// (<paramref name="fingerprint"/>) or cannot be read.
    /// </summary>
    public CheckpointState? TryLoadLatest(nn.Module model, optim.Optimizer optimizer, string fingerprint, nn.Module? average = null)
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
            throw new InvalidOperationException($"The checkpoint in '{dir}' was made with other options ({state.Fingerprint}) than this run ({fingerprint}). Use another checkpoint folder, or the same options to resume.");
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

    /// <summary>Keeps the exported model that scored best on the validation data, so that a resumed run still returns it.</summary>
    public void SaveBest(byte[] exported)
    {
        Directory.CreateDirectory(Folder);
        WriteAtomically(Path.Combine(Folder, BestFile), exported);
    }

    /// <summary>The model <see cref="SaveBest"/> kept, or null when there is none.</summary>
    public byte[]? TryLoadBest()
    {
        string path = Path.Combine(Folder, BestFile);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    private void Prune(string newest)
    {
        var old = Directory.GetDirectories(Folder, "step-*").Select(Path.GetFileName).Where(n => n != newest)
            .OrderByDescending(n => n, StringComparer.Ordinal).Skip(_keepLast - 1);
        foreach (var n in old) Directory.Delete(Path.Combine(Folder, n!), recursive: true);
        foreach (var t in Directory.GetDirectories(Folder, ".tmp-*")) Directory.Delete(t, recursive: true);
    }
}
