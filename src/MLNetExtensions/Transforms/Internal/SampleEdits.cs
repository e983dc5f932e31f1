using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>Geometric edits applied to a whole sample at once: pixels, boxes (dropping with their per-box values) and mask.</summary>
internal static class SampleEdits
{
    /// <summary>Crops to <paramref name="rect"/> (inside the image): boxes are moved, clipped and dropped by
    /// <see cref="BoxMath.Crop"/>, the mask is cut the same way.</summary>
    public static void Crop(DetectionSample s, PixelRect rect, float minVisibleFraction)
    {
        var img = s.Image;
        s.Image = new ImagePixels(PixelGrid.Crop(img.Pixels, img.Width, img.Height, 4, rect), rect.Width, rect.Height, img.Format);
        if (s.Boxes != null)
        {
            var (boxes, kept) = BoxMath.Crop(s.Boxes, rect, minVisibleFraction);
            s.KeepBoxes(boxes, kept);
        }
        if (s.Mask != null)
        {
            s.Mask = MaskOps.Crop(s.Mask, s.MaskWidth, s.MaskHeight, rect);
            s.MaskWidth = rect.Width;
            s.MaskHeight = rect.Height;
        }
    }

    /// <summary>Mirrors pixels, boxes and mask left-right.</summary>
    public static void FlipHorizontal(DetectionSample s)
    {
        var img = s.Image;
        s.Image = new ImagePixels(PixelGrid.FlipHorizontal(img.Pixels, img.Width, img.Height, 4), img.Width, img.Height, img.Format);
        if (s.Boxes != null)
            BoxMath.FlipHorizontal(s.Boxes, img.Width);
        if (s.Mask != null)
            s.Mask = MaskOps.FlipHorizontal(s.Mask, s.MaskWidth, s.MaskHeight);
    }
}
