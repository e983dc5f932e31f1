namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// Training-time augmentation of a segmentation batch, masks moving with the pixels: DeepLab's random scale (image
/// bilinear, mask nearest) then a crop at the input size at a random place, where a scaled image smaller than the
/// input is padded (grey pixels, mask 255 so the padding is never learned); a random rotation about the centre (corners
/// padded the same way); horizontal flip; brightness and contrast jitter, and saturation and hue jitter (as
/// mmsegmentation's <c>PhotoMetricDistortion</c> and torchvision's <c>ColorJitter</c>), of the pixels only; then ClassMix
/// across the batch. All random choices come from the run's seeded generator.
/// </summary>
/// <param name="HorizontalFlip">Flip half the images left-right.</param>
/// <param name="MinScale">Smallest random scale (the paper: 0.5).</param>
/// <param name="MaxScale">Largest random scale (the paper: 2.0); 1 and 1 turn scaling off.</param>
/// <param name="Brightness">Largest brightness shift in pixel values.</param>
/// <param name="Contrast">Largest relative contrast change.</param>
/// <param name="MaxRotation">Largest rotation in degrees, either way; 0 (the default) turns it off. Use it where objects
/// appear at any orientation (aerial, microscopy, documents on a table); keep it small or off for street scenes,
/// whose objects stand upright.</param>
/// <param name="Saturation">Largest relative saturation change (the colours blended towards or away from grey); 0 turns it off.</param>
/// <param name="Hue">Largest hue rotation in degrees, either way; 0 turns it off. It teaches the network that an object's
/// class does not hang on its exact colour.</param>
/// <param name="ClassMix">Probability that an image gets half the classes of another image of the batch pasted over it
/// (ClassMix, Olsson et al. 2021), after the other augmentations; 0 turns it off. It helps most with few training images.</param>
public sealed record SegmentationAugmentation(bool HorizontalFlip = true, float MinScale = 0.5f, float MaxScale = 2f,
    float Brightness = 24f, float Contrast = 0.2f, float MaxRotation = 0f, float Saturation = 0f, float Hue = 0f, float ClassMix = 0f)
{
    internal void Validate()
    {
        if (!(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 8))
            throw new ArgumentOutOfRangeException(nameof(MinScale), MinScale, $"Augmentation scales must satisfy 0 < MinScale <= MaxScale ({MaxScale}) <= 8.");
        if (!(Brightness >= 0 && Brightness <= 255)) throw new ArgumentOutOfRangeException(nameof(Brightness), Brightness, "Brightness must be within [0, 255].");
        if (!(Contrast >= 0 && Contrast < 1)) throw new ArgumentOutOfRangeException(nameof(Contrast), Contrast, "Contrast must be within [0, 1).");
        if (!(MaxRotation >= 0 && MaxRotation <= 180)) throw new ArgumentOutOfRangeException(nameof(MaxRotation), MaxRotation, "MaxRotation must be within [0, 180] degrees.");
        if (!(Saturation >= 0 && Saturation < 1)) throw new ArgumentOutOfRangeException(nameof(Saturation), Saturation, "Saturation must be within [0, 1).");
        if (!(Hue >= 0 && Hue <= 180)) throw new ArgumentOutOfRangeException(nameof(Hue), Hue, "Hue must be within [0, 180] degrees.");
        if (!(ClassMix >= 0 && ClassMix <= 1)) throw new ArgumentOutOfRangeException(nameof(ClassMix), ClassMix, "ClassMix must be a probability within [0, 1].");
    }
}
