"""Writes the reference fixtures of the Faster R-CNN tests (run once: /usr/bin/python3 make_faster_rcnn_fixtures.py).

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14); the tests only read rpn.safetensors:
  anchors            torchvision's AnchorGenerator(((32, 64),), ((0.5, 1.0, 2.0),)) on a 3×4 map of a 48×64 image
  proposals, objectness   (2, 300, 4) decoded boxes (some tiny, some outside the 100×120 image) and (2, 300) logits
  kept.I.boxes, kept.I.scores   RegionProposalNetwork.filter_proposals of them: pre-NMS top 200, post-NMS top 50,
                                NMS 0.7, min size 1e-3, score threshold 0 (torchvision's defaults otherwise)
  match.gt, match.anchors, match.labels   assign_targets_to_anchors (fg 0.7, bg 0.3): 1 object, 0 background, -1 neutral
"""
import os
import sys

import torch
from torchvision.models.detection import rpn as tv_rpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

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


if __name__ == "__main__":
    main()
