namespace MLNetExtensions.Data;

/// <summary>A decoded image at its own size: planar (C, H, W) bytes, C = 3 (RGB) or 1 (grey), composited on
/// <see cref="ImageFileDecoder.Background"/> (<see cref="ImageFileDecoder.Decode"/>).</summary>
internal sealed record DecodedImage(byte[] Pixels, int Width, int Height, int Channels);
