"""Real photographs for the ImageNet ResNet-18 parity tests: skimage's astronaut, chelsea (a cat) and coffee,
centre-cropped to a square and resized to 224x224 RGB PNGs. Run with Debian's /usr/bin/python3 (python3-skimage)."""
import numpy as np
from skimage import data, io, transform

for name in ["astronaut", "chelsea", "coffee"]:
    image = getattr(data, name)()[..., :3]
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    small = transform.resize(square, (224, 224), order=1, anti_aliasing=True, preserve_range=True)
    io.imsave(f"{name}-224.png", np.clip(np.round(small), 0, 255).astype(np.uint8), check_contrast=False)
