# Writes antialiased.json: known answers for AntialiasedBilinearTests, from PyTorch's
# F.interpolate(mode="bilinear", antialias=True, align_corners=False) (torchvision's resize(antialias=True)).
# Run with Debian's python3-torch: /usr/bin/python3 make_antialiased.py
import json
import torch
import torch.nn.functional as F

g = torch.Generator().manual_seed(7)
cases = []

def case(name, image, out_h, out_w, **window):
    x = image.float().unsqueeze(0)
    y = F.interpolate(x, size=(out_h, out_w), mode="bilinear", antialias=True, align_corners=False)[0]
    cases.append({"name": name, "out": [out_w, out_h], "expected": [round(v, 5) for v in y.flatten().tolist()], **window})

for (c, h, w, oh, ow) in [(3, 29, 37, 11, 16), (3, 5, 7, 13, 20), (1, 30, 30, 23, 23), (3, 40, 24, 10, 6), (1, 9, 50, 9, 7)]:
    img = torch.randint(0, 256, (c, h, w), generator=g, dtype=torch.uint8)
    cases.append({"name": f"image {c}x{h}x{w}", "channels": c, "width": w, "height": h, "pixels": img.flatten().tolist()})
    src = len(cases) - 1
    case(f"{w}x{h} -> {ow}x{oh}", img, oh, ow, source=src, window=[0, 0, w, h])
    # A crop window inside the image: the same as resizing the cropped pixels.
    x0, y0, cw, ch = w // 5, h // 4, w - w // 5 - w // 7, h - h // 4 - 1
    case(f"crop ({x0},{y0}) {cw}x{ch} -> {ow}x{oh}", img[:, y0:y0 + ch, x0:x0 + cw], oh, ow, source=src, window=[x0, y0, cw, ch])
    # A zoom-out canvas (the image at (left, top) on a larger canvas of fill colour): the same as resizing the padded image.
    left, top, pw, ph = 3, 2, w * 2 + 1, h + 5
    fill = [124, 116, 104][:c]
    canvas = torch.tensor(fill, dtype=torch.uint8).view(c, 1, 1).repeat(1, ph, pw)
    canvas[:, top:top + h, left:left + w] = img
    case(f"canvas {pw}x{ph} -> {ow}x{oh}", canvas, oh, ow, source=src, window=[-left, -top, pw, ph], fill=fill)

with open("antialiased.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
