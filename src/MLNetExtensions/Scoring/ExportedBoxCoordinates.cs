namespace MLNetExtensions.Scoring;

/// <summary>What the <c>boxes</c> output of a detector exported with its post-processing is measured in.</summary>
public enum ExportedBoxCoordinates
{
    /// <summary>
    /// Pixels of the original image, as <c>PredictedBoxes</c>: the graph takes a second input, <c>original_size</c>
    /// (N, 2) float <c>[width, height]</c> of each image before it was resized to the network's input.
    /// </summary>
    OriginalImage,

    /// <summary>Pixels of the network's input (the resized image, <c>input_width</c> × <c>input_height</c> of the metadata).</summary>
    InputPixels,
}
