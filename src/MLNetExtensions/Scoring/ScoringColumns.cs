namespace MLNetExtensions.Scoring;

/// <summary>
/// Names of the intermediate columns of a scoring chain and of the exported ONNX graph's inputs and outputs.
/// The ONNX names double as column names (ApplyOnnxModel's convention), so they are prefixed to stay out of the
/// way of users' columns; the chain drops them at its end.
/// </summary>
public static class ScoringColumns
{
    internal const string ImagePath = "MLNetExt_ImagePath";
    internal const string Image = "MLNetExt_Image";
    internal const string OriginalWidth = "MLNetExt_OriginalWidth";
    internal const string OriginalHeight = "MLNetExt_OriginalHeight";
    /// <summary>The network input's "WxHxC" (<see cref="NetworkInput.Layout"/>), read by <see cref="ImagePixelsMapping"/>.</summary>
    internal const string PixelLayout = "MLNetExt_PixelLayout";
    internal const string LabelIndices = "MLNetExt_LabelIndices";
    internal const string LabelNames = "MLNetExt_LabelNames";
    /// <summary>An R-CNN's selective search settings, written by its settings graph (<see cref="RcnnProposalMapping"/>).</summary>
    internal const string RcnnSearch = "MLNetExt_RcnnSearch";

    /// <summary>ONNX input: raw pixels (N, C, H, W) in [0, 255], RGB (or one grey channel); normalisation is in the graph.</summary>
    public const string OnnxPixels = "MLNetExt_Pixels";
    /// <summary>ONNX input of an R-CNN: (P, 4) region proposals as corners relative to the image, empty (all zero) rows
    /// for none (<see cref="RcnnProposalMapping"/>).</summary>
    public const string OnnxProposals = "MLNetExt_Proposals";
    /// <summary>ONNX output of detectors: (N, A, 4) decoded boxes as corners relative to the input (0..1).</summary>
    public const string OnnxBoxes = "MLNetExt_Boxes";
    /// <summary>ONNX output of detectors: (N, A, C) class probabilities, background excluded.</summary>
    public const string OnnxScores = "MLNetExt_Scores";
    /// <summary>ONNX output of detectors: (N, 3) [score threshold, NMS IoU threshold, max detections] per image.</summary>
    public const string OnnxPostProcess = "MLNetExt_PostProcess";
    /// <summary>
    /// ONNX input of a detector exported with its post-processing (<see cref="ExportedBoxCoordinates.OriginalImage"/>):
    /// (N, 2) float <c>[width, height]</c> of each original image.
    /// </summary>
    public const string ExportedOriginalSize = "original_size";
    /// <summary>ONNX output of a detector exported with its post-processing: corner boxes <c>[xmin, ymin, xmax, ymax]</c> in pixels.</summary>
    public const string ExportedBoxes = "boxes";
    /// <summary>ONNX output of a detector exported with its post-processing: int64 class indices into the metadata's class names (0-based).</summary>
    public const string ExportedLabels = "labels";
    /// <summary>ONNX output of a detector exported with its post-processing: the detections' class scores.</summary>
    public const string ExportedScores = "scores";
    /// <summary>ONNX output of a detector exported with <see cref="ExportedDetectionLayout.PaddedBatch"/>: (N) int64 detections per image.</summary>
    public const string ExportedDetectionCount = "num_detections";
    /// <summary>ONNX output of segmenters: (N, K, H, W) class logits at the input size.</summary>
    public const string OnnxLogits = "MLNetExt_Logits";
    /// <summary>ONNX output of segmenters: [K, H, W] of <see cref="OnnxLogits"/> as floats, so a stateless mapping can read them.</summary>
    public const string OnnxLogitsShape = "MLNetExt_LogitsShape";
}
