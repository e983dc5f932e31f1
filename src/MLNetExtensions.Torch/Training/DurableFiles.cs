using System.Runtime.InteropServices;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// fsync for files and folders, so that what a rename publishes is on the disk before the rename is: after a power cut
/// or a killed machine the published name then points at whole bytes, never at a file the page cache had not written.
/// </summary>
internal static class DurableFiles
{
    private const int ReadOnly = 0;   // O_RDONLY

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open(string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int FSync(int fd);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);

    /// <summary>Flushes the file's bytes to the disk.</summary>
    public static void SyncFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Flushes every file directly in <paramref name="folder"/>, then the folder itself.</summary>
    public static void SyncFilesAndFolder(string folder)
    {
        foreach (var file in Directory.GetFiles(folder)) SyncFile(file);
        SyncFolder(folder);
    }

    /// <summary>Flushes the folder's entries (names created, renamed, removed) to the disk; Unix only, a no-op elsewhere
    /// (Windows has no folder handle to flush and NTFS journals its metadata).</summary>
    public static void SyncFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        int fd = Open(folder, ReadOnly);
        if (fd < 0) throw new IOException($"Cannot open the folder '{folder}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (FSync(fd) != 0) throw new IOException($"Cannot flush the folder '{folder}' to the disk (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally { Close(fd); }
    }

    /// <summary>Writes <paramref name="bytes"/> beside <paramref name="path"/>, flushes them, renames them over it and
    /// flushes the folder: the path holds the old bytes or the new ones, whole.</summary>
    public static void WriteAtomically(string path, byte[] bytes)
    {
        string tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
        SyncFolder(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }
}
