"""Writes the reference fixtures of the backbone tests (run once: /usr/bin/python3 make_backbone_fixtures.py).

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14); the tests only read the files written here.
The models are torchvision's own blocks (BasicBlock, Bottleneck, InvertedResidual, _make_layer) at reduced widths
so the files stay small; their state_dict keys are torchvision's. For each model NAME:
  NAME.weights.safetensors  the state_dict (float32, or float16 for MobileNetV2; num_batches_tracked int64)
  NAME.io.safetensors       'input' (1, 3, 64, 64) and 'features.K' = the eval-mode feature maps the backbone returns
dtypes.safetensors holds the same small vector in F32, F16, BF16, F64 and I64 for the reader's conversion test.
The writer is hand-written (8-byte little-endian header length, JSON header, raw little-endian bytes): no
safetensors package.
"""
import json
import os
import struct
import sys

import torch
from torch import nn
from torchvision.models import resnet, mobilenetv2

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64", torch.int64: "I64"}


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().tobytes()  # this host is little-endian (checked in main)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def randomize_norms(model, generator):
    """torchvision initialises BatchNorm as the identity; random statistics make the test check the norm too."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=generator) + 0.5
            m.bias.data = torch.randn(n, generator=generator) * 0.3
            m.running_mean.data = torch.randn(n, generator=generator) * 0.3
            m.running_var.data = torch.rand(n, generator=generator) * 1.5 + 0.25
            m.num_batches_tracked.data = torch.tensor(7)


class SmallResNet(resnet.ResNet):
    """torchvision's ResNet with stage widths base·(1, 2, 4, 8) instead of 64·(1, 2, 4, 8); no fc."""

    def __init__(self, block, layers, base, replace_stride_with_dilation=(False, False, False)):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = base, 1, 1, 64
        self.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, base, layers[0])
        self.layer2 = self._make_layer(block, base * 2, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, base * 4, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, base * 8, layers[3], stride=2, dilate=replace_stride_with_dilation[2])

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]


def dilate_mobilenet(features, output_stride):
    """DeepLab's rule (as in TF-slim's mobilenet and torchvision's ResNet): once the output stride is reached, a
    block that would stride keeps stride 1 and the current rate, and the rate is multiplied by its stride for the
    blocks after it. Only the 3x3 depthwise convolutions see the rate."""
    current, rate = 2, 1  # features.0 strides by 2
    for block in list(features)[1:-1]:
        dw = block.conv[-3][0]
        stride = dw.stride[0]
        if current == output_stride:
            layer_rate, rate = rate, rate * stride
            stride = 1
        else:
            layer_rate = 1
            current *= stride
        dw.stride, dw.dilation, dw.padding = (stride, stride), (layer_rate, layer_rate), (layer_rate, layer_rate)
        block.use_res_connect = stride == 1 and block._inp == block._oup


class MobileNetFeatures(nn.Module):
    """torchvision's mobilenet_v2 'features'; returns the maps at features.3, .6, .13 and .18 (the backbone's)."""

    def __init__(self, width_mult):
        super().__init__()
        self.features = mobilenetv2.MobileNetV2(width_mult=width_mult).features

    def forward(self, x):
        out = []
        for i, f in enumerate(self.features):
            x = f(x)
            if i in (3, 6, 13, 18):
                out.append(x)
        return out


def write_model(name, model, seed, half=False):
    """half: store the float weights as F16 (the model computes with those rounded values, so the reference is
    exact) to halve the file and to exercise the reader's F16 path."""
    g = torch.Generator().manual_seed(seed)
    randomize_norms(model, g)
    model.eval()
    if half:
        with torch.no_grad():
            for v in model.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.half().float())
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    save(os.path.join(HERE, f"{name}.weights.safetensors"), state, {"format": "pt", "made_by": "make_backbone_fixtures.py"})
    x = torch.randn(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        feats = model(x)
    io = {"input": x}
    for i, f in enumerate(feats):
        io[f"features.{i}"] = f
    save(os.path.join(HERE, f"{name}.io.safetensors"), io)
    print(name, sum(v.numel() for v in state.values()), "values;", [tuple(f.shape) for f in feats])


def main():
    assert sys.byteorder == "little"
    torch.manual_seed(0)
    write_model("resnet_basic_w8", SmallResNet(resnet.BasicBlock, [2, 2, 2, 2], 8), seed=1)
    torch.manual_seed(1)
    write_model("resnet_bottleneck_w4_os8", SmallResNet(resnet.Bottleneck, [1, 2, 1, 1], 4, (False, True, True)), seed=2)
    torch.manual_seed(2)
    mobile = MobileNetFeatures(0.25)
    for block in list(mobile.features)[1:-1]:
        block._inp, block._oup = block.conv[0][0].in_channels, block.out_channels
    dilate_mobilenet(mobile.features, 16)
    write_model("mobilenet_v2_w025_os16", mobile, seed=3, half=True)

    values = torch.tensor([0.5, -1.25, 3.0, 1024.0, -0.0078125, 65504.0])
    save(os.path.join(HERE, "dtypes.safetensors"), {
        "f32": values.float(), "f16": values.half(), "bf16": values.bfloat16(), "f64": values.double(),
        "i64": torch.tensor([[1, -2, 3], [40000000000, 5, -6]]),
    }, {"note": "conversion test"})

    # Key list of the full-size torchvision resnet18 (minus fc), for the key-name test.
    keys = [k for k in resnet.resnet18().state_dict().keys() if not k.startswith("fc.")]
    with open(os.path.join(HERE, "resnet18_keys.txt"), "w") as f:
        f.write("\n".join(keys) + "\n")
    keys = [k for k in mobilenetv2.mobilenet_v2().state_dict().keys() if not k.startswith("classifier.")]
    with open(os.path.join(HERE, "mobilenet_v2_keys.txt"), "w") as f:
        f.write("\n".join(keys) + "\n")


if __name__ == "__main__":
    main()
