"""Writes the reference fixtures of the Faster R-CNN tests (run once: /usr/bin/python3 make_faster_rcnn_fixtures.py).

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14); the tests only read rpn.safetensors:
  anchors            torchvision's AnchorGenerator(((32, 64),), ((0.5, 1.0, 2.0),)) on a 3×4 map of a 48×64 image
  proposals, objectness   (2, 300, 4) decoded boxes (some tiny, some outside the 100×120 image) and (2, 300) logits
  kept.I.boxes, kept.I.scores   RegionProposalNetwork.filter_proposals of them: pre-NMS top 200, post-NMS top 50,
                                NMS 0.7, min size 1e-3, score threshold 0 (torchvision's defaults otherwise)
  match.gt, match.anchors, match.labels   assign_targets_to_anchors (fg 0.7, bg 0.3): 1 object, 0 background, -1 neutral
and fpn.safetensors (the FPN variant), with the FPN's state_dict in fpn_weights.safetensors:
  anchors            AnchorGenerator(((16,), (32,), (64,)), ((0.5, 1.0, 2.0),) * 3) on 8×8, 4×4, 2×2 maps of a 64×64 image
  mapper.boxes, mapper.K_MIN_K_MAX[_S0]   LevelMapper levels of fixed boxes (√area on and beside 224·2^j, tiny, empty)
  proposals, objectness   (2, 300, 4) and (2, 300) over three levels of 200, 80, 20 anchors; level 1 repeats level 0's
                          best boxes (NMS per level keeps both) and level 2 holds boxes near the image's size
  kept.I.boxes, kept.I.scores   filter_proposals of them: pre-NMS top 60 per level, post-NMS top 50, NMS 0.7
  fpn.input.K, fpn.output.K     FeaturePyramidNetwork([8, 16, 32], 16, LastLevelMaxPool()) on maps of 16², 8², 4²
                                (output 3 is the max-pooled level)
  pool.features.K, pool.rois, pool.output   MultiScaleRoIAlign(["0", "1", "2"], 7, 2, canonical_scale=32) (aligned=False) of RoIs of
                                all sizes over maps of strides 4, 8, 16 of a 64×64 image
"""
import os
import sys

import torch
from torchvision.models.detection import rpn as tv_rpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import feature_pyramid_network as tv_fpn
from torchvision.ops import poolers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Backbones"))
from make_backbone_fixtures import save  # noqa: E402


def main():
    g = torch.Generator().manual_seed(5)
    out = {}
    generator = AnchorGenerator(((32, 64),), ((0.5, 1.0, 2.0),))
    images = ImageList(torch.zeros(1, 3, 48, 64), [(48, 64)])
    out["anchors"] = generator(images, [torch.zeros(1, 8, 3, 4)])[0]

    rpn = tv_rpn.RegionProposalNetwork(generator, tv_rpn.RPNHead(8, 6), 0.7, 0.3, 256, 0.5,
                                       dict(training=200, testing=200), dict(training=50, testing=50), 0.7)
    rpn.eval()
    n, a = 2, 300
    centres = torch.rand(n, a, 2, generator=g) * torch.tensor([150.0, 130.0]) - 15.0
    sizes = torch.rand(n, a, 2, generator=g) * 60.0
    sizes[:, :20] = torch.rand(n, 20, 2, generator=g) * 2e-3  # tiny boxes, some under min_size
    proposals = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=2)
    objectness = torch.randn(n, a, generator=g) * 3
    boxes, scores = rpn.filter_proposals(proposals, objectness, [(100, 120), (100, 120)], [a])
    out["proposals"], out["objectness"] = proposals, objectness
    for i in range(n):
        out[f"kept.{i}.boxes"], out[f"kept.{i}.scores"] = boxes[i], scores[i]

    anchors = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 20], [5, 5, 15, 15], [30, 30, 40, 40], [0, 0, 9, 10], [50, 50, 60, 60], [1, 1, 11, 11]], dtype=torch.float32)
    gt = torch.tensor([[0, 0, 10, 10], [52, 52, 62, 62]], dtype=torch.float32)
    labels, _ = rpn.assign_targets_to_anchors([anchors], [{"boxes": gt}])
    out["match.anchors"], out["match.gt"], out["match.labels"] = anchors, gt, labels[0]
    save(os.path.join(HERE, "rpn.safetensors"), out)
    fpn_fixtures()


def fpn_fixtures():
    g = torch.Generator().manual_seed(11)
    out = {}
    generator = AnchorGenerator(((16,), (32,), (64,)), ((0.5, 1.0, 2.0),) * 3)
    images = ImageList(torch.zeros(1, 3, 64, 64), [(64, 64)])
    out["anchors"] = generator(images, [torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 2, 2)])[0]

    # √area: on the level boundaries 224·2^j (eps puts them on the upper level), just below them, tiny, empty, huge.
    sides = [224.0, 223.99, 112.0, 111.9, 56.0, 55.5, 448.0, 447.0, 896.0, 28.0, 5.0, 1e-3, 0.0, 150.0, 300.0, 2000.0]
    boxes = []
    for i, side in enumerate(sides):
        ratio = [1.0, 2.0, 0.5, 3.0][i % 4]
        w, h = side * ratio ** 0.5, side / ratio ** 0.5
        boxes.append([10.0, 20.0, 10.0 + w, 20.0 + h])
    boxes = torch.tensor(boxes, dtype=torch.float32)
    out["mapper.boxes"] = boxes
    for k_min, k_max, s0 in [(2, 5, 224), (3, 4, 224), (2, 4, 64)]:
        name = f"mapper.{k_min}_{k_max}" + ("" if s0 == 224 else f"_{s0}")
        out[name] = poolers.LevelMapper(k_min, k_max, canonical_scale=s0)([boxes]).to(torch.float32)

    rpn = tv_rpn.RegionProposalNetwork(generator, tv_rpn.RPNHead(8, 3), 0.7, 0.3, 256, 0.5,
                                       dict(training=60, testing=60), dict(training=50, testing=50), 0.7)
    rpn.eval()
    n, counts = 2, [200, 80, 20]
    a = sum(counts)
    centres = torch.rand(n, a, 2, generator=g) * torch.tensor([140.0, 120.0]) - 10.0
    sizes = torch.rand(n, a, 2, generator=g) * 50.0 + 2.0
    sizes[:, :10] = torch.rand(n, 10, 2, generator=g) * 2e-3  # tiny boxes, some under min_size
    sizes[:, 280:] = torch.rand(n, 20, 2, generator=g) * 60.0 + 60.0
    proposals = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=2)
    objectness = torch.randn(n, a, generator=g) * 3
    for i in range(n):
        # Level 1's first 15 anchors: level 0's best boxes, shifted by a pixel, scored a little lower.
        best = objectness[i, :200].argsort(descending=True)[:15]
        proposals[i, 200:215] = proposals[i, best] + 1.0
        objectness[i, 200:215] = objectness[i, best] - 0.05
    boxes, scores = rpn.filter_proposals(proposals, objectness, [(100, 120), (100, 120)], counts)
    out["proposals"], out["objectness"] = proposals, objectness
    for i in range(n):
        out[f"kept.{i}.boxes"], out[f"kept.{i}.scores"] = boxes[i], scores[i]

    fpn = tv_fpn.FeaturePyramidNetwork([8, 16, 32], 16, extra_blocks=tv_fpn.LastLevelMaxPool())
    with torch.no_grad():
        for p in fpn.parameters():
            if p.dim() == 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)  # torchvision starts biases at 0: random ones check them too
    fpn.eval()
    maps = {str(k): torch.randn(2, c, s, s, generator=g) for k, (c, s) in enumerate([(8, 16), (16, 8), (32, 4)])}
    with torch.no_grad():
        results = list(fpn(maps).values())
    for k in range(3):
        out[f"fpn.input.{k}"] = maps[str(k)]
    for k, r in enumerate(results):
        out[f"fpn.output.{k}"] = r
    save(os.path.join(HERE, "fpn_weights.safetensors"), fpn.state_dict())

    pooler = poolers.MultiScaleRoIAlign(["0", "1", "2"], 7, 2, canonical_scale=32)  # 64-px images: RoIs on all levels
    features = {str(k): torch.randn(2, 4, 64 // s, 64 // s, generator=g) for k, s in enumerate([4, 8, 16])}
    xy = torch.rand(40, 2, generator=g) * 40.0
    wh = torch.rand(40, 2, generator=g) ** 2 * 60.0 + 1.0
    rois = torch.cat([xy, xy + wh], dim=1)
    per_image = [rois[:25], rois[25:]]
    out["pool.output"] = pooler(features, per_image, [(64, 64), (64, 64)])
    out["pool.rois"] = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], dim=1) for i, b in enumerate(per_image)])
    for k in range(3):
        out[f"pool.features.{k}"] = features[str(k)]
    save(os.path.join(HERE, "fpn.safetensors"), out)


if __name__ == "__main__":
    main()
