# Writes the image fixtures of the VOC, YOLO and image-header tests (run: /usr/bin/python3 make_image_fixtures.py;
# Pillow 9.4, Debian's python3-pil). Only their sizes and the mask indices matter to the tests.
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

def picture(w, h, seed):
    im = Image.new('RGB', (w, h))
    im.putdata([((x * 5 + seed) % 256, (y * 7) % 256, (x * y + seed) % 256) for y in range(h) for x in range(w)])
    return im

def mask(w, h, boxes):
    m = Image.new('P', (w, h)); m.putpalette(voc_palette())
    px = [0] * (w * h)
    for cls, x0, y0, x1, y1 in boxes:  # 0-based inclusive pixel indices
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                px[y * w + x] = 255 if x in (x0, x1) or y in (y0, y1) else cls
    m.putdata(px); return m

# Pascal VOC
picture(48, 32, 1).save('Voc/JPEGImages/000001.jpg', quality=90)
picture(40, 30, 2).save('Voc/JPEGImages/000002.png')
picture(36, 36, 3).save('Voc/JPEGImages/000003.jpg', quality=90)
mask(48, 32, [(12, 0, 0, 19, 15), (15, 9, 4, 47, 31)]).save('Voc/SegmentationClass/000001.png')
mask(40, 30, [(8, 4, 5, 39, 29)]).save('Voc/SegmentationClass/000002.png')

# YOLO
picture(64, 48, 4).save('Yolo/images/a.jpg', quality=90)
picture(32, 32, 5).save('Yolo/images/b.png')
picture(20, 10, 6).save('Yolo/images/c.png')

# Image headers: one file per format the header parser reads, plus a progressive JPEG with EXIF before its frame.
picture(23, 17, 7).save('ImageHeaders/23x17.png')
picture(23, 17, 7).save('ImageHeaders/23x17.jpg', quality=80)
exif = Image.Exif(); exif[0x010E] = 'x' * 3000  # a large ImageDescription pushes the frame header past 3 KB
picture(23, 17, 7).save('ImageHeaders/23x17_progressive_exif.jpg', quality=80, progressive=True, exif=exif)
picture(23, 17, 7).save('ImageHeaders/23x17.gif')
picture(23, 17, 7).save('ImageHeaders/23x17.bmp')
