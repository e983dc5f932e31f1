using MLNetExtensions.Torch;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;
using static TorchSharp.torch;

namespace MLNetExtensions.Tests.Segmentation;

[TestClass]
public sealed class SegmentationAugmentationTests
{
    [TestMethod]
    public void RotationByAQuarterTurnMovesImageAndMaskTogether()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        // A 6×6 mask with class 1 in the top-left 2×3 block, the image's red channel equal to the mask × 100.
        var mask = zeros(6, 6, dtype: ScalarType.Int64);
        mask[0..2, 0..3] = tensor(1L);
        var image = stack([mask.to(ScalarType.Float32) * 100, zeros(6, 6), zeros(6, 6)]);
        var (rotated, rotatedMask) = SegmentationTrainingSet.Rotate(image, mask, 90);
        // affine_grid's y axis points down, so +90° turns the top-left block to the bottom-left: torch.rot90 by +1 (counter-clockwise).
        var expected = mask.rot90(1, (0, 1));
        CollectionAssert.AreEqual(expected.data<long>().ToArray(), rotatedMask.data<long>().ToArray());
        Assert.IsLessThan(1e-3, (rotated[0] - expected.to(ScalarType.Float32) * 100).abs().max().item<float>(), "pixels move with the mask");
    }

    [TestMethod]
    public void RotationMarksWhatComesFromOutsideTheImageAsIgnoredAndGrey()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var mask = ones(16, 16, dtype: ScalarType.Int64) * 2;
        var image = zeros(3, 16, 16);
        var (rotated, rotatedMask) = SegmentationTrainingSet.Rotate(image, mask, 45);
        Assert.AreEqual(255L, rotatedMask[0, 0].item<long>(), "the corner comes from outside the image");
        Assert.AreEqual(2L, rotatedMask[8, 8].item<long>(), "the centre stays");
        CollectionAssert.IsSubsetOf(rotatedMask.data<long>().Distinct().ToArray(), new long[] { 2, 255 }, "nearest sampling never blends class indices");
        Assert.AreEqual(127.5f, rotated[0, 0, 0].item<float>(), 1e-3f, "outside pixels are grey");
        Assert.AreEqual(0f, rotated[1, 8, 8].item<float>(), 1e-3f);
    }

    [TestMethod]
    public void ClassMixPastesWholeClassesOfTheNextImageWithTheirLabelsAndNeverIgnoredPixels()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        // Image 0: background with a class-1 block. Image 1: background, class-2 and class-3 blocks, an ignored band.
        var t0 = zeros(8, 8, dtype: ScalarType.Int64);
        t0[0..3, 0..3] = tensor(1L);
        var t1 = zeros(8, 8, dtype: ScalarType.Int64);
        t1[4..8, 4..8] = tensor(2L);
        t1[0..2, 5..8] = tensor(3L);
        t1[7, ..] = tensor(255L);
        var i0 = full(3, 8, 8, 10f);
        var i1 = full(3, 8, 8, 200f);
        var (images, targets) = SegmentationTrainingSet.ClassMix([i0, i1], [t0, t1], probability: 1, new Random(4));

        // Image 0 got ⌈3/2⌉ = 2 of image 1's classes {0, 2, 3}: every pixel of a chosen class, pixels with them.
        var source = t1.data<long>().ToArray();
        var mixed = targets[0].data<long>().ToArray();
        var pixels = images[0][0].data<float>().ToArray();
        var pasted = Enumerable.Range(0, 64).Where(p => pixels[p] == 200f).ToArray();
        var chosen = pasted.Select(p => source[p]).Distinct().ToArray();
        Assert.HasCount(2, chosen);
        CollectionAssert.DoesNotContain(chosen, 255L, "ignored pixels are never pasted");
        for (int p = 0; p < 64; p++)
        {
            bool fromOther = chosen.Contains(source[p]);
            Assert.AreEqual(fromOther ? 200f : 10f, pixels[p], $"pixel {p}");
            Assert.AreEqual(fromOther ? source[p] : t0.data<long>()[p], mixed[p], $"label {p}");
        }
        // Image 1 got classes of image 0 (the batch wraps round); with probability 0 nothing changes.
        Assert.IsTrue(images[1][0].data<float>().Any(v => v == 10f));
        var (same, sameTargets) = SegmentationTrainingSet.ClassMix([i0, i1], [t0, t1], probability: 0, new Random(4));
        Assert.AreSame(i0, same[0]);
        Assert.AreSame(t1, sameTargets[1]);
    }

    [TestMethod]
    public void ColorMatrixIsTheIdentityWithoutJitterGreyAtZeroSaturationAndKeepsLumaUnderHueRotation()
    {
        AssertMatrix(new float[,] { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }, ColorJitter.Matrix(1, 0));
        // Saturation 0: every channel becomes the BT.601 luma.
        AssertMatrix(new float[,] { { 0.299f, 0.587f, 0.114f }, { 0.299f, 0.587f, 0.114f }, { 0.299f, 0.587f, 0.114f } }, ColorJitter.Matrix(0, 0.7));
        // A hue rotation keeps the luma of any colour: luma(M·c) = luma(c), i.e. lumaᵀ·M = lumaᵀ.
        var m = ColorJitter.Matrix(1, 2.0);
        float[] luma = [0.299f, 0.587f, 0.114f];
        for (int j = 0; j < 3; j++)
            Assert.AreEqual(luma[j], luma[0] * m[0, j] + luma[1] * m[1, j] + luma[2] * m[2, j], 1e-4f, $"column {j}");
        // ... and turns red away from red: hue really moves.
        Assert.IsLessThan(0.9f, m[0, 0]);
    }

    [TestMethod]
    public void BadRotationOrColourJitterFailsWhenTheEstimatorIsMade()
    {
        var ml = new Microsoft.ML.MLContext(1);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { Augmentation = new SegmentationAugmentation(MaxRotation: 200) }));
        StringAssert.Contains(ex.Message, "MaxRotation must be within [0, 180] degrees.");
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { Augmentation = new SegmentationAugmentation(Saturation: 1) }));
        StringAssert.Contains(ex.Message, "Saturation must be within [0, 1).");
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { Augmentation = new SegmentationAugmentation(Hue: -1) }));
        StringAssert.Contains(ex.Message, "Hue must be within [0, 180] degrees.");
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.TrainDeepLabSegmenter(new DeepLabSegmenterOptions { Augmentation = new SegmentationAugmentation(ClassMix: 1.5f) }));
        StringAssert.Contains(ex.Message, "ClassMix must be a probability within [0, 1].");
    }

    private static void AssertMatrix(float[,] expected, float[,] actual)
    {
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.AreEqual(expected[i, j], actual[i, j], 1e-4f, $"[{i}, {j}]");
    }
}
