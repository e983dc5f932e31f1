namespace MLNetExtensions.Scoring;

/// <summary>How a detector exported with its post-processing returns its detections.</summary>
public enum ExportedDetectionLayout
{
    /// <summary>
    /// One image per call (the pixel input's batch is fixed to 1): <c>boxes</c> (D, 4), <c>labels</c> (D) and
    /// <c>scores</c> (D), D the number of detections of the image, highest score first.
    /// </summary>
    PerImage,

    /// <summary>
    /// Any batch, padded to <see cref="DetectionOnnxExportOptions.MaxDetections"/> per image, for engines that split
    /// every output along the batch axis (SynapseML's <c>ONNXModel</c>): <c>boxes</c> (N, K, 4), <c>labels</c>
    /// (N, K), <c>scores</c> (N, K) and <c>num_detections</c> (N); rows past an image's count hold box 0, label -1 and score 0.
    /// </summary>
    PaddedBatch,
}
