using System.IO.Compression;

namespace MLNetExtensions.Scoring;

/// <summary>
/// Reads the ONNX bytes that ML.NET's <c>ApplyOnnxModel</c> stores in a saved model zip (an entry named
/// <c>OnnxModel</c>: a 32-bit length, then the bytes), so a loaded chain can be re-wrapped and re-exported.
/// </summary>
internal static class SavedOnnxModels
{
    public static List<byte[]> Read(string zipPath)
    {
        var result = new List<byte[]>();
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(zipPath);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"The model file '{zipPath}' is truncated or damaged: it is not a complete zip archive. Save the model again with mlContext.Model.Save.", ex);
        }
        using var _ = zip;
        try
        {
            foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel"))
            {
                using var s = entry.Open();
                using var r = new BinaryReader(s);
                int length = r.ReadInt32();
                // The length prefix is checked against the entry's own size before anything is allocated: a damaged or
                // hostile prefix must not ask for gigabytes.
                if (length < 0 || length > entry.Length - sizeof(int))
                    throw new InvalidDataException($"The model file '{zipPath}' is damaged: its ONNX network '{entry.FullName}' claims {length} bytes, but the entry holds {Math.Max(0, entry.Length - sizeof(int))}. Save the model again with mlContext.Model.Save.");
                var bytes = r.ReadBytes(length);
                if (bytes.Length != length)
                    throw new InvalidDataException($"The model file '{zipPath}' is truncated: its ONNX network '{entry.FullName}' has {bytes.Length} of {length} bytes.");
                result.Add(bytes);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or IOException && !ex.Message.Contains(zipPath, StringComparison.Ordinal))
        {
            // A bad inflate stream, a failed CRC or an entry cut short: DeflateStream's own message names no file.
            throw new InvalidDataException($"The model file '{zipPath}' is damaged: its ONNX network cannot be read ({ex.Message}). Save the model again with mlContext.Model.Save.", ex);
        }
        return result;
    }
}
