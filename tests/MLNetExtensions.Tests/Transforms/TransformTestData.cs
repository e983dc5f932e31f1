using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetExtensions.Tests.Transforms;

/// <summary>Tiny PNG fixtures written with MLImage into a temporary folder, and readers for transform outputs.</summary>
internal sealed class TempImages : IDisposable
{
    public TempImages()
    {
        Folder = Path.Combine(Path.GetTempPath(), "mlnetext-transforms-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    /// <summary>Writes an opaque PNG whose pixel (x, y) has the colour <paramref name="rgb"/> returns.</summary>
    public string Write(string name, int width, int height, Func<int, int, (byte R, byte G, byte B)> rgb)
    {
        var bgra = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = rgb(x, y);
                int o = (y * width + x) * 4;
                bgra[o] = b; bgra[o + 1] = g; bgra[o + 2] = r; bgra[o + 3] = 255;
            }
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bgra);
        image.Save(Path.Combine(Folder, name));
        return name;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>An image read out of a cursor (MLImage outputs are disposed when the cursor moves on).</summary>
internal sealed record ImageCopy(int Width, int Height, byte[] Bgra)
{
    public (byte R, byte G, byte B) Rgb(int x, int y)
    {
        int o = (y * Width + x) * 4;
        return (Bgra[o + 2], Bgra[o + 1], Bgra[o]);
    }
}

internal static class Read
{
    public static List<ImageCopy> Images(IDataView view, string column)
    {
        var result = new List<ImageCopy>();
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<MLImage>(col);
        MLImage image = null!;
        while (cursor.MoveNext())
        {
            getter(ref image);
            Assert.AreEqual(MLPixelFormat.Bgra32, image.PixelFormat);
            result.Add(new ImageCopy(image.Width, image.Height, image.Pixels.ToArray()));
        }
        return result;
    }

    public static List<T> Column<T>(IDataView view, string column) => view.GetColumn<T>(column).ToList();

    public static void AreClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, $"{what}: length");
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance, $"{what}[{i}]: expected [{string.Join(", ", expected)}], got [{string.Join(", ", actual)}]");
    }
}

/// <summary>A row with an image path, boxes and a mask with its size, for transforms that move masks.</summary>
internal sealed class MaskedRow
{
    public string ImagePath { get; set; } = "";
    [VectorType] public float[] Boxes { get; set; } = [];
    [VectorType] public byte[] Mask { get; set; } = [];
    public int MaskWidth { get; set; }
    public int MaskHeight { get; set; }
}
