"""Writes the reference fixture of the RoI Align tests (run once: /usr/bin/python3 make_roi_align_fixtures.py).

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14); the tests only read the file written here.
roi_align.safetensors holds, all float32:
  features        (2, 3, 10, 12) fixed random feature maps
  rois            (K, 5) batch index, x1, y1, x2, y2 in input pixels: ordinary boxes, boxes crossing each border,
                  tiny, empty and reversed boxes, boxes entirely outside, boxes on the second image
  weights.HxW     (K, 3, H, W) fixed random weights of the backward pass, for the output sizes 2x3 and 7x7
  out.CASE        torchvision.ops.roi_align(features, rois, (H, W), scale, ratio, aligned)
  grad.CASE       d/d features of (out.CASE * weights.HxW).sum()
with CASE = s{1|0.5}.r{0|2}.{aligned|unaligned}.{2x3|7x7}.
The writer is hand-written (8-byte little-endian header length, JSON header, raw little-endian bytes): no
safetensors package.
"""
import json
import os
import struct
import sys

import torch
import torchvision
from torchvision.ops import roi_align

HERE = os.path.dirname(os.path.abspath(__file__))

ROIS = [
    [0, 1.0, 1.5, 6.3, 7.2],       # inside
    [0, -3.0, -2.0, 4.0, 5.0],     # crosses the left and top borders
    [1, 8.0, 5.0, 15.0, 13.0],     # crosses the right and bottom borders (map 12 wide, 10 high at scale 1)
    [0, 2.2, 3.1, 2.6, 3.3],       # tiny
    [1, 20.0, 15.0, 30.0, 25.0],   # outside at scale 1, partly inside at scale 0.5
    [0, -10.0, -10.0, -5.0, -4.0], # outside, before the map
    [1, 40.0, 40.0, 60.0, 50.0],   # outside at both scales
    [1, 0.0, 0.0, 12.0, 10.0],     # the whole map at scale 1
    [0, 5.0, 5.0, 5.0, 5.0],       # empty (a point)
    [1, 6.5, 2.25, 11.75, 9.5],
    [0, 0.3, 8.9, 11.6, 9.8],      # thin strip along the bottom
    [1, 11.2, -0.6, 12.8, 10.6],   # thin strip across the right border
    [0, -4.0, -4.0, 30.0, 25.0],   # large: an adaptive grid of up to 15 samples per bin
    [1, 7.0, 6.0, 4.0, 3.0],       # reversed corners
]
SCALES = [1.0, 0.5]
RATIOS = [0, 2]
SIZES = [(2, 3), (7, 7)]


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        assert t.dtype == torch.float32
        raw = t.numpy().tobytes()  # this host is little-endian (checked in main)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    if sys.byteorder != "little":
        sys.exit("the writer assumes a little-endian host")
    g = torch.Generator().manual_seed(2024)
    features = torch.randn(2, 3, 10, 12, generator=g)
    rois = torch.tensor(ROIS, dtype=torch.float32)
    tensors = {"features": features, "rois": rois}
    for h, w in SIZES:
        tensors[f"weights.{h}x{w}"] = torch.randn(len(ROIS), 3, h, w, generator=g)
    for scale in SCALES:
        for ratio in RATIOS:
            for aligned in (True, False):
                for h, w in SIZES:
                    case = f"s{scale:g}.r{ratio}.{'aligned' if aligned else 'unaligned'}.{h}x{w}"
                    x = features.clone().requires_grad_(True)
                    out = roi_align(x, rois, (h, w), spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)
                    (out * tensors[f"weights.{h}x{w}"]).sum().backward()
                    tensors[f"out.{case}"] = out
                    tensors[f"grad.{case}"] = x.grad
    path = os.path.join(HERE, "roi_align.safetensors")
    save(path, tensors)
    print(f"wrote {path}: {len(tensors)} tensors, torch {torch.__version__}, torchvision {torchvision.__version__}")


if __name__ == "__main__":
    main()
