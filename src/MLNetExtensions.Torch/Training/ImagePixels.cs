using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Scoring;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// Pixels of images at a network's input size, made by <see cref="NetworkInput.PixelPipeline"/>, the same ML.NET
/// transforms the scoring chain uses, so training sees exactly the pixels scoring will see. Kept as bytes (C, H, W)
/// so a dataset fits in memory cheaply.
/// </summary>
internal static class ImagePixels
{
    private sealed class PathRow { public string ImagePath = ""; }

    /// <summary>The (C, H, W) bytes of each image, in order.</summary>
    public static List<byte[]> Load(MLContext ml, IReadOnlyList<string> paths, NetworkInput input)
    {
        const string pixels = "MLNetExt_TrainPixels";
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }));
        var transformed = input.PixelPipeline(ml, nameof(PathRow.ImagePath), pixels, asFloat: false).Fit(data).Transform(data);
        var result = new List<byte[]>(paths.Count);
        var column = transformed.Schema[pixels];
        using var cursor = transformed.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<byte>>(column);
        VBuffer<byte> buffer = default;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result;
    }
}
