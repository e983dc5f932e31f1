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
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel"))
        {
            using var s = entry.Open();
            using var r = new BinaryReader(s);
            int length = r.ReadInt32();
            var bytes = r.ReadBytes(length);
            if (bytes.Length != length)
                throw new InvalidDataException($"The model file '{zipPath}' is truncated: its ONNX network '{entry.FullName}' has {bytes.Length} of {length} bytes.");
            result.Add(bytes);
        }
        return result;
    }
}
