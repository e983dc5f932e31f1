using Microsoft.ML;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Evaluation;
using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// The detectors' default training augmentation (<see cref="DetectionAugmentation"/>: zoom-out, SSD's IoU crop,
/// horizontal flip, brightness and contrast, on the original image before it is resized to the input) moves the boxes
/// with the pixels: on an image of one bright rectangle on a dark background, larger than the network input and not
/// square, the bright region of every augmented input is where its augmented box says. The crop keeps SSD's rules.
/// </summary>
[TestClass]
public sealed class DetectionAugmentationTests
{
    private const int Size = 64;

    [TestMethod]
    [DataRow(20, 14, 70, 52)]     // top left
    [DataRow(90, 60, 150, 110)]   // bottom right, touching the border
    public void AugmentedBoxesStayOnTheirPixels(int x0, int y0, int x1, int y1)
    {
        TorchRuntime.EnsureLoaded();
        using var temp = new Data.TempFolder();
        const int width = 150, height = 110;   // the original; the network takes Size × Size
        var pixels = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                pixels[y * width + x] = (byte)(x >= x0 && x < x1 && y >= y0 && y < y1 ? 220 : 40);
        var path = temp["one.png"];
        TestPng.WriteGray(path, width, height, pixels);
        var ml = new MLContext(1);
        var view = DetectionDataView.Create(ml, [new DetectionRecord(path, [new BoundingBox(x0, y0, x1, y1)], ["square"])], ["square"]);
        var input = new NetworkInput(Size, Size, false);
        var set = DetectionTrainingSet.Create(ml, view, input, "ImagePath", "Boxes", "Labels", holdPixels: false);
        var original = input.Decode(path);
        float[] unmoved = [x0 * Size / (float)width, y0 * Size / (float)height, x1 * Size / (float)width, y1 * Size / (float)height];

        int moved = 0, mirrored = 0, zoomedOut = 0;
        var output = new float[3 * Size * Size];
        foreach (var (augmentation, seeds) in new[] { (new DetectionAugmentation(), 80), (new DetectionAugmentation(RandomCrop: false, ZoomOut: false), 40) })
            for (int seed = 0; seed < seeds; seed++)
            {
                var target = set.Sample(_ => original, 0, augmentation, new Random(seed), output);
                Assert.AreEqual(1, target.Count, $"seed {seed}: a crop keeps the image's one object");
                var box = target.Boxes.Select(v => v * Size).ToArray();
                var lit = LitRegion(output.AsSpan(0, Size * Size).ToArray());
                string what = $"seed {seed}: box [{string.Join(", ", box.Select(v => v.ToString("F1")))}], bright region [{string.Join(", ", lit)}]";
                for (int k = 0; k < 4; k++) Assert.AreEqual(box[k], lit[k], 1.5, what);
                if (Enumerable.Range(0, 4).Any(k => Math.Abs(box[k] - unmoved[k]) > 2)) moved++;
                if (Math.Abs(box[0] - (Size - unmoved[2])) < 1 && Math.Abs(box[2] - (Size - unmoved[0])) < 1 && Math.Abs(box[1] - unmoved[1]) < 1) mirrored++;
                if ((box[2] - box[0]) * (box[3] - box[1]) < 0.8f * (unmoved[2] - unmoved[0]) * (unmoved[3] - unmoved[1]) && lit[0] > 0 && lit[2] < Size) zoomedOut++;
            }
        Console.WriteLine($"{moved} of 120 augmented boxes moved, {mirrored} mirrored only, {zoomedOut} made smaller");
        Assert.IsGreaterThanOrEqualTo(30, moved, "zoom-outs, crops and flips happened");
        Assert.IsGreaterThanOrEqualTo(10, mirrored, "plain flips happened");
        Assert.IsGreaterThanOrEqualTo(10, zoomedOut, "zoom-outs happened");
    }

    [TestMethod]
    public void MosaicBoxesStayOnTheirPixels()
    {
        using var temp = new Data.TempFolder();
        const int width = 150, height = 110;
        var pixels = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                pixels[y * width + x] = (byte)(x >= 20 && x < 70 && y >= 14 && y < 52 ? 220 : 40);
        var path = temp["one.png"];
        TestPng.WriteGray(path, width, height, pixels);
        var ml = new MLContext(1);
        var view = DetectionDataView.Create(ml, [new DetectionRecord(path, [new BoundingBox(20, 14, 70, 52)], ["square"])], ["square"]);
        var input = new NetworkInput(Size, Size, false);
        var set = DetectionTrainingSet.Create(ml, view, input, "ImagePath", "Boxes", "Labels", holdPixels: false);
        var original = input.Decode(path);
        var mosaic = new DetectionAugmentation(Mosaic: 1f, Brightness: 0, Contrast: 0);
        var output = new float[3 * Size * Size];
        int boxes = 0, four = 0, brightPixels = 0, unboxed = 0;
        for (int seed = 0; seed < 60; seed++)
        {
            var target = set.Sample(_ => original, 0, mosaic, new Random(seed), output);
            var box = target.Boxes.Select(v => v * Size).ToArray();
            string what = $"seed {seed}: boxes [{string.Join(", ", box.Select(v => v.ToString("F1")))}]";
            for (int y = 0; y < Size; y++)
                for (int x = 0; x < Size; x++)
                {
                    bool bright = output[y * Size + x] > 130;
                    bool inside = Enumerable.Range(0, target.Count).Any(b => x + 0.5f > box[4 * b] - 1.5f && x + 0.5f < box[4 * b + 2] + 1.5f && y + 0.5f > box[4 * b + 1] - 1.5f && y + 0.5f < box[4 * b + 3] + 1.5f);
                    bool deepInside = Enumerable.Range(0, target.Count).Any(b => x + 0.5f > box[4 * b] + 1.5f && x + 0.5f < box[4 * b + 2] - 1.5f && y + 0.5f > box[4 * b + 1] + 1.5f && y + 0.5f < box[4 * b + 3] - 1.5f);
                    if (bright) brightPixels++;
                    if (bright && !inside) unboxed++;   // a sliver of an object under a tenth of its area or 2 px wide
                    if (deepInside && !bright) Assert.Fail($"{what}: pixel ({x}, {y}) is inside a box but dark");
                }
            boxes += target.Count;
            if (target.Count == 4) four++;
        }
        Console.WriteLine($"{boxes} boxes in 60 mosaics, {four} with all four; {unboxed} of {brightPixels} object pixels in no box");
        Assert.IsLessThan(0.02 * brightPixels, unboxed, "only slivers of objects are left without a box");
        Assert.IsGreaterThanOrEqualTo(90, boxes, "most tiles keep their image's object");
        Assert.IsGreaterThanOrEqualTo(5, four, "some mosaics show the object four times");
    }

    [TestMethod]
    public void TheIouCropKeepsSsdsRules()
    {
        // Two boxes in a 200 × 100 frame (relative corners); an image without boxes is never cropped.
        var target = new DetectionTarget([0.1f, 0.1f, 0.3f, 0.4f, 0.5f, 0.5f, 0.9f, 0.8f], [1, 2]);
        Assert.IsNull(DetectionPixelAugmenter.IouCrop(new DetectionTarget([], []), 200, 100, 0.3f, new Random(1)));
        var rng = new Random(3);
        int none = 0, draws = 3000, tight = 0;
        for (int i = 0; i < draws; i++)
        {
            if (DetectionPixelAugmenter.IouCrop(target, 200, 100, 0.3f, rng) is not { } crop) { none++; continue; }
            var (left, top, w, h) = crop;
            string what = $"crop ({left}, {top}) {w}×{h}";
            Assert.IsTrue(w >= (int)(0.3 * 200) && w <= 200 && h >= (int)(0.3 * 100) && h <= 100, $"{what}: sides are 0.3 to 1 of the frame's");
            Assert.IsTrue(w <= 2.0 * h && w >= 0.5 * h, $"{what}: aspect ratio in [1/2, 2]");
            Assert.IsTrue(left >= 0 && top >= 0 && left + w <= 200 && top + h <= 100, $"{what}: inside the frame");
            var kept = DetectionPixelAugmenter.CropTargets(target, left / 200f, top / 100f, w / 200f, h / 100f);
            Assert.IsGreaterThanOrEqualTo(1, kept.Count, $"{what}: the centre of some box is inside");
            // Each kept box's centre was strictly inside the window; each dropped box's was not.
            for (int b = 0; b < target.Count; b++)
            {
                float cx = (target.Boxes[4 * b] + target.Boxes[4 * b + 2]) * 100, cy = (target.Boxes[4 * b + 1] + target.Boxes[4 * b + 3]) * 50;
                bool inside = cx > left && cx < left + w && cy > top && cy < top + h;
                Assert.AreEqual(inside, kept.Labels.Contains(target.Labels[b]), $"{what}: box {b} kept exactly when its centre is inside");
            }
            float best = 0;
            for (int b = 0; b < target.Count; b++)
            {
                float bx0 = target.Boxes[4 * b] * 200, by0 = target.Boxes[4 * b + 1] * 100, bx1 = target.Boxes[4 * b + 2] * 200, by1 = target.Boxes[4 * b + 3] * 100;
                float inter = Math.Max(0, Math.Min(bx1, left + w) - Math.Max(bx0, left)) * Math.Max(0, Math.Min(by1, top + h) - Math.Max(by0, top));
                best = Math.Max(best, inter / ((bx1 - bx0) * (by1 - by0) + w * h - inter));
            }
            if (best >= 0.5f) tight++;
        }
        Console.WriteLine($"{none} of {draws} uncropped, {tight} crops overlap a box by IoU ≥ 0.5");
        // "No crop" is one of the seven choices, drawn again when 40 windows fail a minimum (0.7 and 0.9 cannot be met here:
        // a box of 40 × 30 in the smallest 60 × 30 window has IoU 2/3), so at least 1/7 and at most 1/4 of images stay uncropped.
        Assert.IsTrue(none > draws / 7 * 0.85 && none < draws * 0.27, $"{none} of {draws} uncropped, 1/7 to 1/4 expected");
        Assert.IsGreaterThan(0, tight, "some crops drawn for IoU ≥ 0.5 are that tight around a box");
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
