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
/// Bilinear weights and the average over the grid factor into a y part and an x part, so each RoI's output is
/// <c>Ay · F · Axᵀ</c>: Ay (oh, H) holds, for each output row, the summed bilinear row weights of its samples
/// divided by their count, Ax (ow, W) the same for columns. The weights come from the RoIs only (no gradient to the
/// boxes, as in torchvision); the feature maps enter through two matrix products, one per image of the batch, so
/// the cost is independent of the sampling ratio and autograd's backward is two more products.
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
            grid = torch.full_like(bins, samplingRatio);
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

        var ax = AxisWeights(start[.., 0], bins[.., 0], grid[.., 0], gridX, outputWidth, w);   // (K, ow, W)
        var ay = AxisWeights(start[.., 1], bins[.., 1], grid[.., 1], gridY, outputHeight, h);  // (K, oh, H)
        if (features.dtype != coordinateType)
        {
            ax = ax.to_type(features.dtype);
            ay = ay.to_type(features.dtype);
        }

        var result = n == 1 ? Pool(features[0], ay, ax) : PoolByImage(features, batch, ay, ax);  // (K, C, oh, ow)
        return result.MoveToOuterDisposeScope();
    }

    // Finite boxes and batch indices in [0, N): one host sync for both.
    private static void CheckRois(Tensor r, Tensor batch, long n)
    {
        using var scope = NewDisposeScope();
        var bad = batch.lt(0).logical_or_(batch.ge(n));                                         // (K)
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
    /// (K, pooled, size) weights of one axis: for each RoI and output cell, the bilinear weights of its samples on
    /// the feature rows (or columns), summed and divided by the samples per bin along this axis.
    /// </summary>
    private static Tensor AxisWeights(Tensor start, Tensor bin, Tensor grid, int maxGrid, int pooled, long size)
    {
        var dtype = start.dtype;
        var device = start.device;
        using Scalar half = 0.5, zero = 0.0, one = 1.0, minusOne = -1.0, limit = (double)size, last = (double)(size - 1);
        var cell = torch.arange(pooled, dtype, device).reshape(1, pooled, 1);                 // (1, P, 1)
        var sample = torch.arange(maxGrid, dtype, device).reshape(1, 1, maxGrid);             // (1, 1, G)
        var s = start.reshape(-1, 1, 1);                                                      // (K, 1, 1)
        var b = bin.reshape(-1, 1, 1);
        var g = grid.reshape(-1, 1, 1);
        var count = g.clamp_min(one);                                                         // (K, 1, 1) a grid of 0 has no samples
        // torchvision's order of operations: start + p·bin + (i + 0.5)·bin / grid.
        var coord = (s + cell * b) + (sample.add(half) * b).div_(count);                      // (K, P, G)
        // Samples past this RoI's own grid (adaptive ratio) and samples off the map contribute 0.
        var valid = coord.ge(minusOne).logical_and_(coord.le(limit)).logical_and_(sample.lt(g));  // (K, P, G)
        coord = coord.clamp_min(zero);
        var low = coord.floor();
        var atEnd = low.ge(last);
        low = low.clamp_max(last);
        var high = torch.where(atEnd, low, low.add(one));
        var frac = torch.where(atEnd, torch.zeros_like(coord), coord.sub(low));              // (K, P, G)
        var mask = valid.to_type(dtype).div_(count);                                  // (K, P, G) 1/grid where valid
        var weights = torch.cat([frac.neg().add_(one).mul_(mask), frac.mul(mask)], 2);        // (K, P, 2G) low, high
        var index = torch.cat([low, high], 2).to_type(ScalarType.Int64);                      // (K, P, 2G)
        return torch.zeros(start.shape[0], pooled, size, dtype, device).scatter_add_(2, index, weights);  // (K, P, size)
    }

    // All RoIs on one map (C, H, W): Ay · F · Axᵀ for each RoI.
    private static Tensor Pool(Tensor map, Tensor ay, Tensor ax)
    {
        long c = map.shape[0], h = map.shape[1], w = map.shape[2], k = ay.shape[0], oh = ay.shape[1], ow = ax.shape[1];
        var rows = map.permute(1, 0, 2).reshape(h, c * w);                                   // (H, C·W)
        var pooledRows = ay.reshape(k * oh, h).mm(rows);                                      // (K·oh, C·W)
        var cells = pooledRows.reshape(k, oh * c, w).bmm(ax.transpose(1, 2));                 // (K, oh·C, ow)
        return cells.reshape(k, oh, c, ow).permute(0, 2, 1, 3).contiguous();                  // (K, C, oh, ow)
    }

    // RoIs on several images: each image's RoIs pooled from its own map, then put back in the order of rois.
    private static Tensor PoolByImage(Tensor features, Tensor batch, Tensor ay, Tensor ax)
    {
        long n = features.shape[0];
        var (sortedBatch, order) = batch.sort(stable: true);                                  // (K), (K)
        var counts = sortedBatch.bincount(null, n).data<long>().ToArray();               // one host sync
        ay = ay.index_select(0, order);
        ax = ax.index_select(0, order);
        var parts = new List<Tensor>();
        long first = 0;
        for (int image = 0; image < n; image++)
        {
            long count = counts[image];
            if (count == 0) continue;
            parts.Add(Pool(features[image], ay.narrow(0, first, count), ax.narrow(0, first, count)));  // (Kb, C, oh, ow)
            first += count;
        }
        var sorted = parts.Count == 1 ? parts[0] : torch.cat(parts, 0);                      // (K, C, oh, ow) by image
        return sorted.index_select(0, order.argsort());                                       // (K, C, oh, ow) in rois' order
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
