using MLNetExtensions.Boxes;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// One image's regions as R-CNN's training stages see them: its selective search proposals (the best
/// <c>ProposalsPerImage</c>, corners relative to the image), then its ground-truth boxes, with each region's best IoU
/// with a ground truth and that ground truth's index (−1 for an image without objects).
/// </summary>
internal sealed class RcnnRegions
{
    private RcnnRegions(float[] boxes, int proposalCount, float[] iou, int groundTruthCount)
    {
        Boxes = boxes;
        ProposalCount = proposalCount;
        Iou = iou;
        GroundTruthCount = groundTruthCount;
        BestIou = new float[Count];
        BestTruth = new int[Count];
        for (int r = 0; r < Count; r++)
        {
            BestTruth[r] = -1;
            for (int t = 0; t < groundTruthCount; t++)
                if (iou[r * groundTruthCount + t] > BestIou[r] || BestTruth[r] < 0) { BestIou[r] = iou[r * groundTruthCount + t]; BestTruth[r] = t; }
        }
    }

    /// <summary>(R, 4) corners relative to the image: the proposals, then the ground truth.</summary>
    public float[] Boxes { get; }
    public int ProposalCount { get; }
    public int GroundTruthCount { get; }
    public int Count => ProposalCount + GroundTruthCount;

    /// <summary>(R, G) IoU of every region with every ground-truth box (IoU is the same relative or in pixels).</summary>
    public float[] Iou { get; }
    public float[] BestIou { get; }
    public int[] BestTruth { get; }

    /// <summary>Region <paramref name="r"/>'s highest IoU with a ground truth of class <paramref name="label"/> (1-based), 0 when it has none.</summary>
    public float IouWithClass(int r, long label, DetectionTarget target)
    {
        float best = 0;
        for (int t = 0; t < GroundTruthCount; t++)
            if (target.Labels[t] == label) best = Math.Max(best, Iou[r * GroundTruthCount + t]);
        return best;
    }

    public static RcnnRegions Create(float[] proposals, DetectionTarget target)
    {
        var boxes = new float[proposals.Length + target.Boxes.Length];
        proposals.CopyTo(boxes, 0);
        target.Boxes.CopyTo(boxes, proposals.Length);
        var iou = target.Count == 0 ? [] : BoxOps.PairwiseIou(boxes, target.Boxes);
        return new RcnnRegions(boxes, proposals.Length / 4, iou, target.Count);
    }

    /// <summary>The regions of every image of a set: selective search on each file (in parallel), then the IoUs.</summary>
    public static RcnnRegions[] For(DetectionTrainingSet set, SelectiveSearchOptions search, int proposalsPerImage, string dataName)
    {
        var result = new RcnnRegions[set.Count];
        Parallel.For(0, set.Count, i =>
        {
            var (boxes, width, height) = SelectiveSearchRowMapper.ProposeFile(set.Paths[i], search, proposalsPerImage, $"R-CNN proposals of the {dataName}", "ImagePath", i);
            for (int j = 0; j < boxes.Length; j += 4)
            {
                boxes[j] /= width; boxes[j + 1] /= height; boxes[j + 2] /= width; boxes[j + 3] /= height;
            }
            result[i] = Create(boxes, set.Targets[i]);
        });
        return result;
    }
}
