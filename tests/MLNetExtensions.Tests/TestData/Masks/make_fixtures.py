# Writes the PIL-made mask fixtures used by SegmentationMaskTests (run: /usr/bin/python3 make_fixtures.py; Pillow 9.4,
# Debian's python3-pil). The pixel patterns are the formulas the tests recompute.
from PIL import Image

def voc_palette():
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= (c & 1) << (7 - j); g |= ((c >> 1) & 1) << (7 - j); b |= ((c >> 2) & 1) << (7 - j); c >>= 3
        pal += [r, g, b]
    return pal

W, H = 13, 7
def palette8(x, y): return 255 if (x + y) % 5 == 0 else (x * 7 + y * 13) % 22
def small(x, y, bits): return (x + 2 * y) % (1 << bits)
def gray(x, y): return (x * x * 5 + y * 37) % 256

im = Image.new('P', (W, H)); im.putpalette(voc_palette())
im.putdata([palette8(x, y) for y in range(H) for x in range(W)]); im.save('pil_palette8.png')
for bits in (1, 2, 4):
    im = Image.new('P', (W, H)); im.putpalette(voc_palette()[: 3 * (1 << bits)])
    im.putdata([small(x, y, bits) for y in range(H) for x in range(W)]); im.save(f'pil_palette{bits}.png', bits=bits)
im = Image.new('L', (W, H)); im.putdata([gray(x, y) for y in range(H) for x in range(W)]); im.save('pil_gray8.png')
pal = voc_palette()
rgb = Image.new('RGB', (W, H))
rgb.putdata([tuple(pal[3 * palette8(x, y): 3 * palette8(x, y) + 3]) for y in range(H) for x in range(W)]); rgb.save('pil_rgb_voc.png')
rgb.putpixel((4, 2), (10, 20, 30)); rgb.save('pil_rgb_not_voc.png')
Image.new('I;16', (W, H)).save('pil_gray16.png')
