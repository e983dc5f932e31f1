using MLNetExtensions.Data;
using MLNetExtensions.Scoring;
using MLNetExtensions.Transforms.ImageMath;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// <see cref="DetectionAugmentation"/> of one original image on the CPU in plain C#, into the network's float input
/// pixels: the zoom-out and the IoU crop choose a window of the (possibly enlarged) image, which is resampled once to the
/// input size with the scoring path's filter (<see cref="AntialiasedBilinear"/>, rounded to bytes as
/// <see cref="NetworkInput.ReadPixels"/> does, so an image drawn with no geometric change has exactly the pixels scoring
/// reads); then the flip and the brightness and contrast. No libtorch call, so data workers do not queue on libtorch's
/// thread pool behind the training step. The boxes follow the pixels.
/// </summary>
internal static class DetectionPixelAugmenter
{
    /// <summary>The zoom-out canvas's colour: the ImageNet mean (torchvision's SSD fill), or its luma for grey input.</summary>
    private static readonly byte[] RgbFill = [124, 116, 104], GreyFill = [117];

    /// <summary>SSD's minimum-IoU choices; 1 stands for "no crop" (torchvision's <c>RandomIoUCrop</c> options).</summary>
    private static readonly float[] MinIouOptions = [0f, 0.1f, 0.3f, 0.5f, 0.7f, 0.9f, 1f];

    private const int CropTrials = 40, OptionDraws = 50;

    /// <summary>Writes <paramref name="image"/> (the original, in the input's colour) into <paramref name="output"/>
    /// (C × H × W floats at <paramref name="input"/>'s size), augmented with <paramref name="rng"/> when <paramref name="a"/>
    /// is given, and returns its target <paramref name="t"/> (boxes relative to the image) moved with the pixels.</summary>
    public static DetectionTarget Apply(DecodedImage image, NetworkInput input, DetectionTarget t, DetectionAugmentation? a, Random rng, Span<float> output)
    {
        int c = input.Channels, w = image.Width, h = image.Height;
        if (image.Channels != c) throw new ArgumentException($"The image has {image.Channels} channel(s); the network takes {c}.", nameof(image));
        output = output[..(c * input.Height * input.Width)];
        // The window resampled to the input, in the image's pixels: the image, or the zoom-out canvas around it, or a crop of either.
        int x0 = 0, y0 = 0, ww = w, wh = h;
        if (a is { ZoomOut: true, MaxZoomOut: > 1 } && rng.NextDouble() < 0.5)
        {
            double r = 1 + rng.NextDouble() * (a.MaxZoomOut - 1);
            int cw = (int)(w * r), ch = (int)(h * r);
            int left = (int)((cw - w) * rng.NextDouble()), top = (int)((ch - h) * rng.NextDouble());
            (x0, y0, ww, wh) = (-left, -top, cw, ch);
            t = Moved(t, (float)left / cw, (float)top / ch, (float)w / cw, (float)h / ch);
        }
        if (a is { RandomCrop: true } && IouCrop(t, ww, wh, a.MinCropScale, rng) is { } crop)
        {
            var (left, top, cropW, cropH) = crop;
            t = CropTargets(t, (float)left / ww, (float)top / wh, (float)cropW / ww, (float)cropH / wh);
            (x0, y0, ww, wh) = (x0 + left, y0 + top, cropW, cropH);
        }
        AntialiasedBilinear.Resample(image.Pixels, w, h, c, c == 3 ? RgbFill : GreyFill, x0, y0, ww, wh, input.Width, input.Height, output);
        for (int k = 0; k < output.Length; k++) output[k] = AntialiasedBilinear.ToByte(output[k]);
        return a == null ? t : FlipAndJitter(input, t, a, rng, output);
    }

    /// <summary>
    /// A 2 × 2 mosaic (YOLOv4's, as an option) of <paramref name="four"/> originals into <paramref name="output"/>: the
    /// input is cut into four tiles around a centre drawn in the middle half of each side; each tile shows a window of one
    /// image with the tile's aspect ratio, ½ to 1 of the largest that fits, placed uniformly, resampled with the scoring
    /// filter; boxes are clipped to their window and kept when at least a tenth of each and 2 pixels a side show
    /// (ultralytics' rule: a tile cuts many objects, and SSD's centre rule would leave their visible parts unlabelled).
    /// Then the flip and the
    /// brightness and contrast of <see cref="Apply"/>.
    /// </summary>
    public static DetectionTarget Mosaic(IReadOnlyList<(DecodedImage Image, DetectionTarget Target)> four, NetworkInput input, DetectionAugmentation a, Random rng, Span<float> output)
    {
        int c = input.Channels, w = input.Width, h = input.Height;
        output = output[..(c * h * w)];
        int cx = Math.Clamp((int)(w * (0.25 + 0.5 * rng.NextDouble())), 1, w - 1), cy = Math.Clamp((int)(h * (0.25 + 0.5 * rng.NextDouble())), 1, h - 1);
        (int X, int Y, int W, int H)[] tiles = [(0, 0, cx, cy), (cx, 0, w - cx, cy), (0, cy, cx, h - cy), (cx, cy, w - cx, h - cy)];
        var boxes = new List<float>();
        var labels = new List<long>();
        var tile = new float[c * w * h];
        for (int q = 0; q < 4; q++)
        {
            var (image, t) = four[q];
            var (tx, ty, tw, th) = tiles[q];
            double aspect = (double)tw / th, scale = 0.5 + 0.5 * rng.NextDouble();
            int ww = Math.Max(1, (int)(Math.Min(image.Width, image.Height * aspect) * scale)), wh = Math.Max(1, (int)(ww / aspect));
            wh = Math.Min(wh, image.Height);
            int x0 = rng.Next(image.Width - ww + 1), y0 = rng.Next(image.Height - wh + 1);
            var kept = ClipTargets(t, (float)x0 / image.Width, (float)y0 / image.Height, (float)ww / image.Width, (float)wh / image.Height, tw, th);
            for (int i = 0; i < kept.Count; i++)
            {
                boxes.AddRange([(tx + kept.Boxes[4 * i] * tw) / w, (ty + kept.Boxes[4 * i + 1] * th) / h, (tx + kept.Boxes[4 * i + 2] * tw) / w, (ty + kept.Boxes[4 * i + 3] * th) / h]);
                labels.Add(kept.Labels[i]);
            }
            AntialiasedBilinear.Resample(image.Pixels, image.Width, image.Height, c, c == 3 ? RgbFill : GreyFill, x0, y0, ww, wh, tw, th, tile);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++)
                        output[ch * w * h + (ty + y) * w + tx + x] = AntialiasedBilinear.ToByte(tile[ch * tw * th + y * tw + x]);
        }
        return FlipAndJitter(input, new DetectionTarget(boxes.ToArray(), labels.ToArray()), a, rng, output);
    }

    /// <summary>The horizontal flip, then brightness and contrast, of the input-size pixels <paramref name="output"/>.</summary>
    private static DetectionTarget FlipAndJitter(NetworkInput input, DetectionTarget t, DetectionAugmentation a, Random rng, Span<float> output)
    {
        int c = input.Channels;
        if (a.HorizontalFlip && rng.NextDouble() < 0.5)
        {
            for (int row = 0; row < c * input.Height; row++) output.Slice(row * input.Width, input.Width).Reverse();
            var b = (float[])t.Boxes.Clone();
            for (int i = 0; i < t.Count; i++)
            {
                b[4 * i] = 1 - t.Boxes[4 * i + 2];
                b[4 * i + 2] = 1 - t.Boxes[4 * i];
            }
            t = t with { Boxes = b };
        }
        if (a.Brightness > 0 || a.Contrast > 0)
        {
            float contrast = 1 + (float)(rng.NextDouble() * 2 - 1) * a.Contrast;
            float brightness = (float)(rng.NextDouble() * 2 - 1) * a.Brightness;
            double sum = 0;
            foreach (float v in output) sum += v;
            float mean = (float)(sum / output.Length);
            for (int k = 0; k < output.Length; k++) output[k] = Math.Clamp((output[k] - mean) * contrast + mean + brightness, 0f, 255f);
        }
        return t;
    }

    /// <summary>
    /// SSD's IoU-constrained crop of a <paramref name="width"/> × <paramref name="height"/> frame (torchvision's
    /// <c>RandomIoUCrop</c>): draw a minimum IoU; "none" keeps the frame; else up to 40 windows, sides a fraction in
    /// [<paramref name="minScale"/>, 1] of the frame's, aspect ratio in [½, 2], placed uniformly, until one contains the
    /// centre of some box and overlaps one of those boxes by at least the minimum. Null: no crop (also for an image with
    /// no boxes, as in torchvision, where only "none" ends its loop).
    /// </summary>
    internal static (int Left, int Top, int Width, int Height)? IouCrop(DetectionTarget t, int width, int height, float minScale, Random rng)
    {
        if (t.Count == 0) return null;
        for (int draw = 0; draw < OptionDraws; draw++)
        {
            float minIou = MinIouOptions[rng.Next(MinIouOptions.Length)];
            if (minIou >= 1) return null;
            for (int trial = 0; trial < CropTrials; trial++)
            {
                int cw = (int)(width * (minScale + (1 - minScale) * rng.NextDouble()));
                int ch = (int)(height * (minScale + (1 - minScale) * rng.NextDouble()));
                if (cw <= 0 || ch <= 0 || cw < 0.5 * ch || cw > 2.0 * ch) continue;
                int left = (int)((width - cw) * rng.NextDouble()), top = (int)((height - ch) * rng.NextDouble());
                int right = left + cw, bottom = top + ch;
                float best = -1;
                for (int i = 0; i < t.Count; i++)
                {
                    float bx0 = t.Boxes[4 * i] * width, by0 = t.Boxes[4 * i + 1] * height, bx1 = t.Boxes[4 * i + 2] * width, by1 = t.Boxes[4 * i + 3] * height;
                    float cx = (bx0 + bx1) / 2, cy = (by0 + by1) / 2;
                    if (!(left < cx && cx < right && top < cy && cy < bottom)) continue;
                    float iw = Math.Min(bx1, right) - Math.Max(bx0, left), ih = Math.Min(by1, bottom) - Math.Max(by0, top);
                    float inter = Math.Max(0, iw) * Math.Max(0, ih);
                    float union = (bx1 - bx0) * (by1 - by0) + (float)cw * ch - inter;
                    best = Math.Max(best, union > 0 ? inter / union : 0);
                }
                if (best >= 0 && best >= minIou) return (left, top, cw, ch);
            }
        }
        return null;
    }

    /// <summary>Boxes inside the crop window (x0, y0, w, h relative to the frame): SSD keeps a box when its centre is
    /// strictly inside the window, clipped to it, in the window's coordinates; boxes left under 0.1% of a side are dropped.</summary>
    internal static DetectionTarget CropTargets(DetectionTarget t, float x0, float y0, float cw, float ch)
    {
        var boxes = new List<float>();
        var labels = new List<long>();
        for (int i = 0; i < t.Count; i++)
        {
            float bx0 = t.Boxes[4 * i], by0 = t.Boxes[4 * i + 1], bx1 = t.Boxes[4 * i + 2], by1 = t.Boxes[4 * i + 3];
            float cx = (bx0 + bx1) / 2, cy = (by0 + by1) / 2;
            if (!(cx > x0 && cx < x0 + cw && cy > y0 && cy < y0 + ch)) continue;
            float nx0 = Math.Clamp((bx0 - x0) / cw, 0, 1), ny0 = Math.Clamp((by0 - y0) / ch, 0, 1);
            float nx1 = Math.Clamp((bx1 - x0) / cw, 0, 1), ny1 = Math.Clamp((by1 - y0) / ch, 0, 1);
            if (nx1 - nx0 < 1e-3f || ny1 - ny0 < 1e-3f) continue;
            boxes.AddRange([nx0, ny0, nx1, ny1]);
            labels.Add(t.Labels[i]);
        }
        return new DetectionTarget(boxes.ToArray(), labels.ToArray());
    }

    /// <summary>Boxes clipped to the window (x0, y0, w, h relative to the image), in the window's coordinates, kept when at
    /// least 10% of the box's area and 2 pixels of each side (at <paramref name="outWidth"/> × <paramref name="outHeight"/>)
    /// are inside.</summary>
    private static DetectionTarget ClipTargets(DetectionTarget t, float x0, float y0, float cw, float ch, int outWidth, int outHeight)
    {
        var boxes = new List<float>();
        var labels = new List<long>();
        for (int i = 0; i < t.Count; i++)
        {
            float bx0 = t.Boxes[4 * i], by0 = t.Boxes[4 * i + 1], bx1 = t.Boxes[4 * i + 2], by1 = t.Boxes[4 * i + 3];
            float nx0 = Math.Clamp((bx0 - x0) / cw, 0, 1), ny0 = Math.Clamp((by0 - y0) / ch, 0, 1);
            float nx1 = Math.Clamp((bx1 - x0) / cw, 0, 1), ny1 = Math.Clamp((by1 - y0) / ch, 0, 1);
            float visible = (nx1 - nx0) * (ny1 - ny0) * cw * ch, area = (bx1 - bx0) * (by1 - by0);
            if ((nx1 - nx0) * outWidth < 2 || (ny1 - ny0) * outHeight < 2 || visible < 0.1f * area) continue;
            boxes.AddRange([nx0, ny0, nx1, ny1]);
            labels.Add(t.Labels[i]);
        }
        return new DetectionTarget(boxes.ToArray(), labels.ToArray());
    }

    /// <summary>Boxes of an image placed at (<paramref name="x"/>, <paramref name="y"/>) with size
    /// (<paramref name="sx"/>, <paramref name="sy"/>), all relative to a larger canvas, in the canvas's coordinates.</summary>
    private static DetectionTarget Moved(DetectionTarget t, float x, float y, float sx, float sy)
    {
        var b = new float[t.Boxes.Length];
        for (int i = 0; i < t.Count; i++)
        {
            b[4 * i] = x + t.Boxes[4 * i] * sx;
            b[4 * i + 1] = y + t.Boxes[4 * i + 1] * sy;
            b[4 * i + 2] = x + t.Boxes[4 * i + 2] * sx;
            b[4 * i + 3] = y + t.Boxes[4 * i + 3] * sy;
        }
        return t with { Boxes = b };
    }
}
