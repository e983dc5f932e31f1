using MLNetExtensions.Torch.Training.HeldScalars;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Detection.FasterRcnn;

/// <summary>
/// RoI Align (He et al. 2017, Mask R-CNN) with exactly the semantics of torchvision's <c>ops.roi_align</c>, built
/// from TorchSharp tensor ops so that autograd carries the gradient to the feature maps.
/// </summary>
/// <remarks>
/// <para>
/// Each output cell averages bilinear samples taken on a regular grid inside its bin. The rules are torchvision's:
/// with <c>aligned</c> the box corners are shifted by -0.5 pixel (pixel centres), without it the box is at least
/// 1×1; a <c>samplingRatio</c> &lt;= 0 takes ceil(bin size) samples per bin and axis, for each RoI; a sample with
/// y &lt; -1, y &gt; H, x &lt; -1 or x &gt; W counts as 0 (but still counts in the average), coordinates &lt;= 0 read
/// row/column 0 and coordinates at or past H - 1 (W - 1) read the last row (column).
/// </para>
/// <para>
/// The output is linear in the features: each output cell (k, p, q) is a weighted sum of at most
/// (2·grid_h)·(2·grid_w) map pixels, the weight of a pixel being the product of its row weight (the bilinear weights
/// along y of the bin's samples, over grid_h) and its column weight. The weights come from the RoIs only (no gradient
/// to the boxes, as in torchvision) and form a sparse (K·oh·ow, N·H·W) matrix; one sparse × dense product with the
/// channels-last maps pools all RoIs of all images, and autograd's backward is the transposed product. The cost is
/// proportional to the samples taken, not to the map size.
/// </para>
/// </remarks>
public static class RoiAlign
{
    /// <summary>Pools each RoI of <paramref name="rois"/> from <paramref name="features"/> to a fixed size.</summary>
    /// <param name="features">(N, C, H, W) floating-point feature maps.</param>
    /// <param name="rois">(K, 5) rows of batch index, x1, y1, x2, y2 in input pixels (feature pixels / <paramref name="spatialScale"/>).</param>
    /// <param name="outputHeight">Output rows per RoI (oh).</param>
    /// <param name="outputWidth">Output columns per RoI (ow).</param>
    /// <param name="spatialScale">Feature pixels per input pixel, e.g. 1/16 for a stride-16 map.</param>
    /// <param name="samplingRatio">Samples per bin and axis; &lt;= 0 picks ceil(bin size) for each RoI.</param>
    /// <param name="aligned">Shift the box by -0.5 feature pixel (torchvision's <c>aligned=True</c>, Detectron2's default).</param>
    /// <returns>(K, C, oh, ow), in the dtype and on the device of <paramref name="features"/>.</returns>
    /// <exception cref="ArgumentException">A tensor has the wrong shape or type, a box is not finite, or a batch index is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An output size is below 1 or the scale is not positive and finite.</exception>
    public static Tensor Apply(Tensor features, Tensor rois, int outputHeight, int outputWidth, float spatialScale, int samplingRatio, bool aligned = true)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(rois);
        if (features.dim() != 4)
            throw new ArgumentException($"features must be (N, C, H, W), but has shape ({Shape(features)}).", nameof(features));
        if (!features.is_floating_point())
            throw new ArgumentException($"features must be a floating-point tensor, but is {features.dtype}.", nameof(features));
        if (rois.dim() != 2 || rois.shape[1] != 5)
            throw new ArgumentException($"rois must be (K, 5) rows of batch index, x1, y1, x2, y2, but has shape ({Shape(rois)}); for boxes (K, 4) of one image, prepend a column of its batch index.", nameof(rois));
        ArgumentOutOfRangeException.ThrowIfLessThan(outputHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputWidth, 1);
        if (!(spatialScale > 0) || !float.IsFinite(spatialScale))
            throw new ArgumentOutOfRangeException(nameof(spatialScale), spatialScale, "spatialScale must be positive and finite (feature pixels per input pixel, e.g. 0.0625 for stride 16).");

        long n = features.shape[0], c = features.shape[1], h = features.shape[2], w = features.shape[3], k = rois.shape[0];
        if (k == 0)
            return features.flatten().narrow(0, 0, 0).reshape(0, c, outputHeight, outputWidth);  // (0, C, oh, ow), still on the graph

        using var scope = NewDisposeScope();
        // Coordinates in float32 as torchvision does for float32 maps (float64 for float64 maps).
        var coordinateType = features.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var r = rois.detach().to(coordinateType, features.device);                           // (K, 5)
        var batch = r[.., 0].to_type(ScalarType.Int64);                                       // (K), truncated like torchvision's (int) cast
        CheckRois(r, batch, n);

        using Scalar scale = spatialScale, offset = aligned ? 0.5 : 0.0, one = 1.0;
        var start = r[.., 1..3].mul(scale).sub_(offset);                                     // (K, 2) x1, y1 in feature pixels
        var size = r[.., 3..5].mul(scale).sub_(offset).sub_(start);                         // (K, 2) width, height
        if (!aligned) size = size.clamp_min(one);
        var bins = size / torch.tensor(new float[] { outputWidth, outputHeight }, dtype: coordinateType, device: features.device);  // (K, 2)
        Tensor grid;                                                                          // (K, 2) samples per bin along x, y
        int gridX, gridY;
        if (samplingRatio > 0)
        {
            using Scalar ratio = samplingRatio;
            grid = torch.full_like(bins, ratio);
            gridX = gridY = samplingRatio;
        }
        else
        {
            // ceil(roi size / output size): the same float division as the bin size. An empty or reversed box gets
            // no samples (its output is 0), as torchvision's loop over a grid of 0 or fewer samples.
            grid = bins.ceil();
            var most = grid.amax(0).clamp_min(one).to_type(ScalarType.Int64).data<long>().ToArray();  // one host sync
            gridX = checked((int)most[0]);
            gridY = checked((int)most[1]);
        }

        var (colIndex, colWeight) = AxisWeights(start[.., 0], bins[.., 0], grid[.., 0], gridX, outputWidth, w);   // (K, ow, Jx)
        var (rowIndex, rowWeight) = AxisWeights(start[.., 1], bins[.., 1], grid[.., 1], gridY, outputHeight, h);  // (K, oh, Jy)

        // One sparse row per output cell (k, p, q) over the N·H·W map pixels: the products of its row and column
        // weights at pixel (batch_k, y, x). Entries of weight 0 (off the map, past a RoI's own grid) are dropped.
        long cells = k * outputHeight * outputWidth;
        using Scalar mapPixels = h * w, rowPixels = w, nothing = 0.0, cellCount = cells;
        var pixel = batch.mul(mapPixels).reshape(k, 1, 1, 1, 1)
                    .Plus(rowIndex.mul(rowPixels).reshape(k, outputHeight, 1, -1, 1))
                    .Plus(colIndex.reshape(k, 1, outputWidth, 1, -1));                       // (K, oh, ow, Jy, Jx)
        var weight = rowWeight.reshape(k, outputHeight, 1, -1, 1) * colWeight.reshape(k, 1, outputWidth, 1, -1);  // (K, oh, ow, Jy, Jx)
        var cell = HeldArithmetic.Range(cellCount, ScalarType.Int64, features.device).reshape(k, outputHeight, outputWidth, 1, 1).expand_as(pixel);
        var used = weight.ne(nothing);
        var entries = torch.stack([cell.masked_select(used), pixel.masked_select(used)]);   // (2, nnz)
        var sampling = torch.sparse_coo_tensor(entries, weight.masked_select(used).to_type(features.dtype), [cells, n * h * w]);

        var pixels = features.permute(0, 2, 3, 1).reshape(n * h * w, c);                      // (N·H·W, C) channels last
        var pooled = sampling.mm(pixels);                                                     // (K·oh·ow, C)
        var result = pooled.reshape(k, outputHeight, outputWidth, c).permute(0, 3, 1, 2).contiguous();  // (K, C, oh, ow)
        return result.MoveToOuterDisposeScope();
    }

    // Finite boxes and batch indices in [0, N): one host sync for both.
    private static void CheckRois(Tensor r, Tensor batch, long n)
    {
        using var scope = NewDisposeScope();
        using Scalar first = 0L, end = n;
        var bad = batch.lt(first).logical_or_(batch.ge(end));                                         // (K)
        var facts = torch.stack([
            r.isfinite().all().to_type(ScalarType.Int64),
            bad.any().to_type(ScalarType.Int64),
            bad.to_type(ScalarType.Int64).argmax(),
        ]).data<long>().ToArray();
        if (facts[0] == 0)
            throw new ArgumentException("rois must be finite, but holds NaN or infinity; check the boxes that produced them (e.g. a diverged box regression).", "rois");
        if (facts[1] != 0)
        {
            long row = facts[2];
            double index = r[row, 0].to_type(ScalarType.Float64).item<double>();
            throw new ArgumentException($"rois[{row}, 0] is batch index {index}, but features holds {n} image(s); the first column of rois must be the index of the box's image, in [0, {n - 1}].", "rois");
        }
    }

    /// <summary>
    /// The bilinear taps of one axis: for each RoI and output cell, the 2 rows (or columns) of each of its
    /// <paramref name="maxGrid"/> samples and their weights, 0 for samples off the map or past the RoI's own grid,
    /// divided by the samples per bin along this axis: (K, pooled, 2·maxGrid) indices and weights.
    /// </summary>
    private static (Tensor Index, Tensor Weight) AxisWeights(Tensor start, Tensor bin, Tensor grid, int maxGrid, int pooled, long size)
    {
        var dtype = start.dtype;
        var device = start.device;
        using Scalar half = 0.5, zero = 0.0, one = 1.0, minusOne = -1.0, limit = (double)size, last = (double)(size - 1), cells = pooled, samples = maxGrid;
        var cell = HeldArithmetic.Range(cells, dtype, device).reshape(1, pooled, 1);          // (1, P, 1)
        var sample = HeldArithmetic.Range(samples, dtype, device).reshape(1, 1, maxGrid);     // (1, 1, G)
        var s = start.reshape(-1, 1, 1);                                                      // (K, 1, 1)
        var b = bin.reshape(-1, 1, 1);
        var g = grid.reshape(-1, 1, 1);
        var count = g.clamp_min(one);                                                         // (K, 1, 1) a grid of 0 has no samples
        // torchvision's order of operations: start + p·bin + (i + 0.5)·bin / grid.
        var coord = s.Plus(cell * b).Plus((sample.Plus(half) * b).div_(count));               // (K, P, G)
        // Samples past this RoI's own grid (adaptive ratio) and samples off the map contribute 0.
        var valid = coord.ge(minusOne).logical_and_(coord.le(limit)).logical_and_(sample.lt(g));  // (K, P, G)
        coord = coord.clamp_min(zero);
        var low = coord.floor();
        var atEnd = low.ge(last);
        low = low.clamp_max(last);
        var high = torch.where(atEnd, low, low.Plus(one));
        var frac = torch.where(atEnd, torch.zeros_like(coord), coord.sub(low));              // (K, P, G)
        var mask = valid.to_type(dtype).div_(count);                                          // (K, P, G) 1/grid where valid
        var weights = torch.cat([frac.neg().PlusInPlace(one).mul_(mask), frac.mul(mask)], 2);        // (K, P, 2G) low, high
        var index = torch.cat([low, high], 2).to_type(ScalarType.Int64);                      // (K, P, 2G)
        return (index, weights);
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
