using MLNetExtensions.Data.Masks;

namespace MLNetExtensions.Data.Synthetic;

/// <summary>One annotated object: its box is the bounding box of its visible pixels, in inclusive pixel indices.</summary>
internal sealed record SceneObject(ShapeKind Kind, int XMin, int YMin, int XMax, int YMax, bool Difficult, bool Occluded);

/// <summary>A rendered image (RGB, row-major), its class mask and its objects.</summary>
internal sealed record SyntheticScene(int Size, byte[] Rgb, SegmentationMask Mask, IReadOnlyList<SceneObject> Objects);
