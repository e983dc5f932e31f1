namespace MLNetExtensions.Onnx;

/// <summary>What an exported model computes, so a scorer knows how to read its outputs.</summary>
public enum OnnxModelKind
{
    /// <summary>One score vector per image.</summary>
    Classification,

    /// <summary>Boxes, labels and scores per image.</summary>
    Detection,

    /// <summary>One class score map (or class map) per image.</summary>
    Segmentation,
}
