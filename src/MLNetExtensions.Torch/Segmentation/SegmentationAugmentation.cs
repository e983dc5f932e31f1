namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Training-time augmentation of a segmentation batch, masks moving with the pixels: horizontal flip; DeepLab's
/// random scale (image bilinear, mask nearest) then a crop at the input size at a random place, where a scaled image
/// smaller than the input is padded (grey pixels, mask 255 so the padding is never learned); brightness and
/// contrast jitter of the pixels only. All random choices come from the run's seeded generator.
/// </summary>
/// <param name="HorizontalFlip">Flip half the images left-right.</param>
/// <param name="MinScale">Smallest random scale (the paper: 0.5).</param>
/// <param name="MaxScale">Largest random scale (the paper: 2.0); 1 and 1 turn scaling off.</param>
/// <param name="Brightness">Largest brightness shift in pixel values.</param>
/// <param name="Contrast">Largest relative contrast change.</param>
public sealed record SegmentationAugmentation(bool HorizontalFlip = true, float MinScale = 0.5f, float MaxScale = 2f,
    float Brightness = 24f, float Contrast = 0.2f)
{
    internal void Validate()
    {
        if (!(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 8))
            throw new ArgumentOutOfRangeException(nameof(MinScale), MinScale, $"Augmentation scales must satisfy 0 < MinScale <= MaxScale ({MaxScale}) <= 8.");
        if (!(Brightness >= 0 && Brightness <= 255)) throw new ArgumentOutOfRangeException(nameof(Brightness), Brightness, "Brightness must be within [0, 255].");
        if (!(Contrast >= 0 && Contrast < 1)) throw new ArgumentOutOfRangeException(nameof(Contrast), Contrast, "Contrast must be within [0, 1).");
    }
}
