using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// R-CNN's feature cache: the fine-tuned CNN's features of every region (proposals and ground truth) of every training
/// image, computed in ONNX Runtime from the exported CNN graph and written to a file (as the paper caches pool5/fc7
/// features to disk before training the SVMs), so memory does not grow with the dataset: 2,000 proposals of 512 floats
/// are 4 MB an image. <see cref="Row"/> reads a region back standardised per dimension and divided by √D, so that the
/// features' mean squared norm is 1 (the paper scales its features to a mean norm of 20 for liblinear; ML.NET's
/// <c>LinearSvm</c> is a Pegasos solver, whose steps need features of about unit norm, and a pooled ReLU feature is all
/// positive, so without centring its norm is mostly the mean feature, which a linear model cannot use to tell regions
/// apart).
/// </summary>
/// <remarks>
/// The file lies in the temporary folder (<see cref="Path.GetTempPath"/>: <c>TMPDIR</c> on Linux and macOS, <c>TMP</c>
/// on Windows; point it at a disk with room for a large dataset) and is deleted when the cache is disposed (on Linux
/// and macOS as soon as it is mapped, so a killed process leaves nothing behind). It is written through a stream, so a
/// full disk fails with an <see cref="IOException"/> that names the folder, and read through a memory map: the
/// operating system keeps what fits in memory.
/// </remarks>
internal sealed class RcnnFeatureCache : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long[] _firstRow;

    private RcnnFeatureCache(MemoryMappedFile? map, long[] firstRow, int size, float[] mean, float[] scale, string path, long bytes)
    {
        _map = map;
        _view = map?.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
        _firstRow = firstRow;
        Size = size;
        Mean = mean;
        Scale = scale;
        FilePath = path;
        Bytes = bytes;
    }

    /// <summary>D.</summary>
    public int Size { get; }

    /// <summary>Per dimension, the CNN features' mean over all cached regions.</summary>
    public float[] Mean { get; }

    /// <summary>Per dimension, 1 / (standard deviation · √D).</summary>
    public float[] Scale { get; }

    /// <summary>The cache file (already removed from its folder on Linux and macOS).</summary>
    public string FilePath { get; }

    /// <summary>The size of the cache file: every region's D floats.</summary>
    public long Bytes { get; }

    /// <summary>A linear model (weights <paramref name="w"/>, D values, and bias) on the cached features as one on the CNN's own
    /// features: <c>w · ((x − μ) · s) + b = (w · s) · x + (b − Σ w s μ)</c>.</summary>
    public (float[] Weights, float Bias) Unstandardise(ReadOnlySpan<float> w, float bias)
    {
        var result = new float[Size];
        double b = bias;
        for (int j = 0; j < Size; j++)
        {
            result[j] = w[j] * Scale[j];
            b -= (double)result[j] * Mean[j];
        }
        return (result, (float)b);
    }

    /// <summary>Region <paramref name="region"/> of image <paramref name="image"/>: its D features, standardised, (x − <see cref="Mean"/>) · <see cref="Scale"/>.</summary>
    public float[] Row(int image, int region)
    {
        var row = new float[Size];
        _view!.ReadArray((_firstRow[image] + region) * Size * sizeof(float), row, 0, Size);
        for (int j = 0; j < Size; j++) row[j] = (row[j] - Mean[j]) * Scale[j];
        return row;
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }

    /// <summary>The features of every region of every image of <paramref name="set"/> (its pixels as training read them) by
    /// the CNN graph <paramref name="cnnOnnx"/>, written to a new cache file in the temporary folder.</summary>
    public static RcnnFeatureCache Compute(byte[] cnnOnnx, DetectionTrainingSet set, RcnnRegions[] regions, int? threads)
    {
        using var options = new SessionOptions();
        if (threads is int t) options.IntraOpNumThreads = t;
        using var session = new InferenceSession(cnnOnnx, options);
        var input = set.Input;
        var firstRow = new long[set.Count];
        for (int i = 1; i < set.Count; i++) firstRow[i] = firstRow[i - 1] + regions[i - 1].Count;
        long rows = set.Count == 0 ? 0 : firstRow[^1] + regions[^1].Count;
        string folder = Path.GetTempPath();
        string path = Path.Combine(folder, $"mlnetextensions-rcnn-features-{Guid.NewGuid():N}.bin");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
        try
        {
            int size = 0;
            double[] sum = [], squares = [];
            for (int i = 0; i < set.Count; i++)
            {
                int r = regions[i].Count;
                if (r == 0) continue;
                var pixels = new DenseTensor<float>(set.Pixels(i).Select(b => (float)b).ToArray(), [1, input.Channels, input.Height, input.Width]);
                var boxes = new DenseTensor<float>(regions[i].Boxes, [r, 4]);
                using var results = session.Run(
                    [NamedOnnxValue.CreateFromTensor(ScoringColumns.OnnxPixels, pixels), NamedOnnxValue.CreateFromTensor(RcnnNetwork.RegionsInput, boxes)],
                    [RcnnNetwork.FeaturesOutput]);
                var output = results.First().AsTensor<float>();
                if (size == 0)
                {
                    size = output.Dimensions[1];
                    sum = new double[size];
                    squares = new double[size];
                    EnsureRoom(folder, rows * size * sizeof(float));
                }
                var features = output.ToArray();   // (r, D)
                for (int k = 0; k < r; k++)
                    for (int j = 0; j < size; j++) { double v = features[k * size + j]; sum[j] += v; squares[j] += v * v; }
                Write(file, MemoryMarshal.AsBytes(features.AsSpan()), folder);
            }
            long length = rows * size * sizeof(float);
            try { file.Flush(); }
            catch (IOException ex) { throw NoRoom(folder, length, ex); }
            var mean = new float[size];
            var scale = new float[size];
            for (int j = 0; j < size; j++)
            {
                double m = sum[j] / Math.Max(1, rows), variance = Math.Max(0, squares[j] / Math.Max(1, rows) - m * m);
                mean[j] = (float)m;
                scale[j] = (float)(1 / (Math.Sqrt(variance + 1e-6) * Math.Sqrt(size)));
            }
            // Mapped read-only over a file written whole: no page of it can be missing (a sparse file on a full disk would
            // fail a mapped read with a signal instead of an exception).
            var map = length == 0 ? null : MemoryMappedFile.CreateFromFile(file, null, length, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            if (map == null) file.Dispose();
            else if (!OperatingSystem.IsWindows()) File.Delete(path);   // the map keeps the data; the folder no longer lists it
            return new RcnnFeatureCache(map, firstRow, size, mean, scale, path, length);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void Write(FileStream file, ReadOnlySpan<byte> bytes, string folder)
    {
        try { file.Write(bytes); }
        catch (IOException ex) { throw NoRoom(folder, file.Position + bytes.Length, ex); }
    }

    /// <summary>Fails before the first feature is written when the folder's disk has less free space than the cache needs.</summary>
    private static void EnsureRoom(string folder, long bytes)
    {
        long free;
        try { free = new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace; }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException) { return; }   // unknown: the writes tell
        if (free < bytes) throw NoRoom(folder, bytes, null, free);
    }

    private static IOException NoRoom(string folder, long bytes, Exception? inner, long? free = null)
        => new($"R-CNN's feature cache needs {bytes / 1e9:F2} GB in the temporary folder '{folder}'{(free is long f ? $", which has {f / 1e9:F2} GB free" : $" and could not be written ({inner?.Message})")}. " +
               "Free space there, or point TMPDIR (TMP on Windows) at a disk with room before training; fewer ProposalsPerImage or training images make it smaller.", inner);
}
