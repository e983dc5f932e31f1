using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Evaluation;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The detectors' default training augmentation (<see cref="DetectionAugmentation"/>: random crop, horizontal flip,
/// brightness and contrast) moves the boxes with the pixels: on an image of one bright rectangle on a dark background,
/// the bright region of every augmented image is where its augmented box says.
/// </summary>
[TestClass]
public sealed class DetectionAugmentationTests
{
    private const int Size = 64;

    [TestMethod]
    [DataRow(8, 10, 30, 28)]     // top left
    [DataRow(36, 30, 60, 62)]    // bottom right, touching the border
    public void AugmentedBoxesStayOnTheirPixels(int x0, int y0, int x1, int y1)
    {
        TorchRuntime.EnsureLoaded();
        using var temp = new Data.TempFolder();
        var pixels = new byte[Size * Size];
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
                pixels[y * Size + x] = (byte)(x >= x0 && x < x1 && y >= y0 && y < y1 ? 220 : 40);
        var path = temp["one.png"];
        TestPng.WriteGray(path, Size, Size, pixels);
        var ml = new MLContext(1);
        var view = DetectionDataView.Create(ml, [new DetectionRecord(path, [new BoundingBox(x0, y0, x1, y1)], ["square"])], ["square"]);
        var set = DetectionTrainingSet.Create(ml, view, new NetworkInput(Size, Size, false), "ImagePath", "Boxes", "Labels");

        int moved = 0, mirrored = 0;
        for (int seed = 0; seed < 60; seed++)
        {
            using var scope = NewDisposeScope();
            var (images, targets) = set.Batch([0], new DetectionAugmentation(), new Random(seed), CPU);
            Assert.AreEqual(1, targets[0].Count, $"seed {seed}: a crop keeps the image's one object");
            var box = targets[0].Boxes.Select(v => v * Size).ToArray();
            var lit = LitRegion(images[0][0].data<float>().ToArray());
            string what = $"seed {seed}: box [{string.Join(", ", box.Select(v => v.ToString("F1")))}], bright region [{string.Join(", ", lit)}]";
            for (int k = 0; k < 4; k++) Assert.AreEqual(box[k], lit[k], 2.5, what);
            if (Enumerable.Range(0, 4).Any(k => Math.Abs(box[k] - new[] { x0, y0, x1, y1 }[k]) > 3)) moved++;
            if (Math.Abs(box[0] - (Size - x1)) < 3 && Math.Abs(box[2] - (Size - x0)) < 3 && Math.Abs(box[1] - y0) < 3) mirrored++;
        }
        Console.WriteLine($"{moved} of 60 augmented boxes moved, {mirrored} mirrored only");
        Assert.IsGreaterThanOrEqualTo(20, moved, "crops and flips happened");
        Assert.IsGreaterThanOrEqualTo(5, mirrored, "plain flips happened");
    }

    /// <summary>[xmin, ymin, xmax, ymax] in pixels (max exclusive) of the pixels above the midpoint of the image's range.</summary>
    private static int[] LitRegion(float[] channel)
    {
        float threshold = (channel.Min() + channel.Max()) / 2;
        int xmin = Size, ymin = Size, xmax = 0, ymax = 0;
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
                if (channel[y * Size + x] > threshold)
                {
                    xmin = Math.Min(xmin, x); ymin = Math.Min(ymin, y);
                    xmax = Math.Max(xmax, x + 1); ymax = Math.Max(ymax, y + 1);
                }
        return [xmin, ymin, xmax, ymax];
    }
}
