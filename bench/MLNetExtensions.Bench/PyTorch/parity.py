#!/usr/bin/env python3
"""PyTorch twins of the quickstart SSD and DeepLab networks, for the `pytorch-parity` bench.

The bench (PyTorchParityBenchmark.cs) writes a folder with `config.json` (the network's settings), `weights.safetensors`
(its state_dict), and `batch.safetensors` (the images, one weight tensor per output for the loss sum(output * weight),
and the C# network's eval-mode outputs). This script builds the same layers by hand (the modules mirror the C# ones
and are named like their state_dict keys), loads the weights with strict=True, checks that the outputs match, counts
the FLOPs of the convolutions and linear layers, times forward + backward + optimizer step, profiles a few steps by
operator, and checks convolution gradients at the shapes oneDNN got wrong on AVX-512 against float64.

Usage: parity.py FOLDER --threads N [--warmup W] [--profile-steps P] [--gradient-check]
After its checks it prints `ready`, then answers each `steps K` line on stdin with `block S` (the median seconds of
those K steps; `steps K channels_last` runs them on the batch in channels-last memory), so the bench can alternate
blocks of steps with its own; any other line ends it with the step's split and the profile.
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


# ---- shared blocks (MLNetExtensions.Torch.Modules) ---------------------------------------------------------------

class ConvBnAct(nn.Sequential):
    """Conv2d (0) -> BatchNorm2d (1) -> ReLU, as ConvBnAct.cs; the conv has a bias only without BatchNorm."""

    def __init__(self, cin, cout, k=3, stride=1, dilation=1, bn=True):
        layers = [nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation=dilation, bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU())
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """ResidualBlock.cs: two 3x3 convs with BatchNorm, a 1x1 projection when the shape changes."""

    def __init__(self, cin, cout, stride=1, dilation=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def normalize(x, kind):
    """InputNormalization.cs for the two kinds the quickstarts use."""
    if kind == "MinusOneToOne":
        return x / 127.5 - 1
    if kind == "PerImageStandardization":
        n = x[0].numel()
        centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
        std = centred.square().mean(dim=(1, 2, 3), keepdim=True).sqrt()
        return centred / std.clamp_min(1.0 / math.sqrt(n))
    raise ValueError(f"normalization {kind} has no twin here")


# ---- SSD (Detection/Ssd) ---------------------------------------------------------------------------------------

class SsdBackbone(nn.Module):
    """SsdBackbone.cs, VggLite with optional top-down fusion and the four extra blocks."""

    def __init__(self, cin, m, fusion):
        super().__init__()
        w = lambda c: max(8, round(c * m))
        self.body = nn.Sequential(
            ConvBnAct(cin, w(32), stride=2), ConvBnAct(w(32), w(32)),
            ConvBnAct(w(32), w(64), stride=2), ConvBnAct(w(64), w(64)),
            ConvBnAct(w(64), w(128), stride=2), ConvBnAct(w(128), w(128)))
        self.stage4 = nn.Sequential(ConvBnAct(w(128), w(256), stride=2), ConvBnAct(w(256), w(256)))
        c8, c16 = w(128), w(256)
        self.fusion = fusion
        if fusion:
            self.lateral = ConvBnAct(c16, c8, k=1)
            self.smooth = ConvBnAct(c8, c8)
        self.extras = nn.ModuleList()
        prev = c16
        for o in [w(256), w(128), w(128), w(128)]:
            self.extras.append(nn.Sequential(ConvBnAct(prev, o // 2, k=1, bn=False), ConvBnAct(o // 2, o, stride=2, bn=False)))
            prev = o
        self.out_channels = [c8, c16, w(256), w(128), w(128), w(128)]

    def forward(self, x):
        x8 = self.body(x)
        x = self.stage4(x8)
        maps = [x8, x]
        if self.fusion:
            top = F.interpolate(self.lateral(x), size=x8.shape[2:], mode="nearest")
            maps[0] = self.smooth(x8 + top)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        return maps


class SsdHead(nn.Module):
    """SsdHead.cs: one 3x3 conv per map, (N, A, V) after permute, reshape and concatenation."""

    def __init__(self, channels, boxes, values):
        super().__init__()
        self.values = values
        self.module_list = nn.ModuleList(nn.Conv2d(c, b * values, 3, padding=1) for c, b in zip(channels, boxes))

    def forward(self, maps):
        parts = [conv(m).permute(0, 2, 3, 1).reshape(m.shape[0], -1, self.values) for conv, m in zip(self.module_list, maps)]
        return torch.cat(parts, 1)


class SsdNetwork(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.kind = c["normalization"]
        self.backbone = SsdBackbone(c["inChannels"], c["widthMultiplier"], c["topDownFusion"])
        self.classification_head = SsdHead(self.backbone.out_channels, c["boxesPerLocation"], c["classCount"] + 1)
        self.regression_head = SsdHead(self.backbone.out_channels, c["boxesPerLocation"], 4)

    def forward(self, images):
        maps = self.backbone(normalize(images, self.kind))
        return [self.classification_head(maps), self.regression_head(maps)]


# ---- DeepLab v3+ (Segmentation/DeepLab) ----------------------------------------------------------------------------

class ResNetLiteBackbone(nn.Module):
    """ResNetLiteBackbone.cs at output stride 16 or 8."""

    def __init__(self, cin, output_stride, m):
        super().__init__()
        w = lambda c: max(8, round(c * m / 8) * 8)
        os8 = output_stride == 8
        self.stem = ConvBnAct(cin, w(32), stride=2)
        self.layer1 = nn.Sequential(ResidualBlock(w(32), w(64), stride=2), ResidualBlock(w(64), w(64)))
        self.layer2 = nn.Sequential(ResidualBlock(w(64), w(128), stride=2))
        self.layer3 = nn.Sequential(ResidualBlock(w(128), w(256), dilation=2) if os8 else ResidualBlock(w(128), w(256), stride=2))
        d = 4 if os8 else 2
        self.layer4 = nn.Sequential(ResidualBlock(w(256), w(256), dilation=d), ResidualBlock(w(256), w(256), dilation=d))
        self.low_channels, self.high_channels = w(64), w(256)

    def forward(self, x):
        low = self.layer1(self.stem(x))
        return low, self.layer4(self.layer3(self.layer2(low)))


class ImagePooling(nn.Sequential):
    """ImagePoolingBranch.cs: pool (0), 1x1 conv (1), BatchNorm (2), ReLU, upsampled to the map."""

    def __init__(self, cin, cout):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        y = F.interpolate(super().forward(x), size=x.shape[2:], mode="bilinear", align_corners=False)
        # In the input's layout, as ImagePoolingBranch.cs: the upsampled 1x1 map is NCHW, and one NCHW branch makes
        # ASPP's concatenation NCHW.
        return y.contiguous(memory_format=torch.channels_last) if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() else y


class Aspp(nn.Module):
    def __init__(self, cin, cout, rates, dropout):
        super().__init__()
        branches = [ConvBnAct(cin, cout, k=1)] + [ConvBnAct(cin, cout, 3, dilation=r) for r in rates] + [ImagePooling(cin, cout)]
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(nn.Conv2d(cout * len(branches), cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x):
        return self.project(torch.cat([b(x) for b in self.convs], 1))


class Decoder(nn.Module):
    def __init__(self, low, aspp, projected, classes):
        super().__init__()
        self.project = ConvBnAct(low, projected, k=1)
        self.fuse = nn.Sequential(ConvBnAct(projected + aspp, aspp), ConvBnAct(aspp, aspp))
        self.classifier = nn.Conv2d(aspp, classes, 1)

    def forward(self, low, context):
        low = self.project(low)
        up = F.interpolate(context, size=low.shape[2:], mode="bilinear", align_corners=False)
        return self.classifier(self.fuse(torch.cat([low, up], 1)))


class DeepLabNetwork(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.kind = c["normalization"]
        self.backbone = ResNetLiteBackbone(c["inChannels"], c["outputStride"], c["widthMultiplier"])
        self.aspp = Aspp(self.backbone.high_channels, c["asppChannels"], c["atrousRates"], c["dropout"])
        self.decoder = Decoder(self.backbone.low_channels, c["asppChannels"], c["lowLevelChannels"], c["classCount"])

    def forward(self, images):
        low, high = self.backbone(normalize(images, self.kind))
        # DeepLabNetwork.cs: the logits in NCHW before the upsampling (a no-op on an NCHW batch).
        logits = self.decoder(low, self.aspp(high)).contiguous()
        return [F.interpolate(logits, size=images.shape[2:], mode="bilinear", align_corners=False)]


# ---- one convolution (libtorch's kernels alone, next to no per-operation overhead) ----------------------------------

class SingleConvolution(nn.Conv2d):
    def __init__(self, c):
        super().__init__(c["channels"], c["channels"], 3, padding=1)

    def forward(self, images):
        return [super().forward(images)]


# ---- measurements ------------------------------------------------------------------------------------------------

def forward_flops(net, images):
    """2 x multiply-accumulates of every Conv2d and Linear in one eval-mode forward, per image."""
    total = [0]

    def conv_hook(module, inputs, output):
        output = output[0] if isinstance(output, list) else output  # SingleConvolution returns [y]
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total[0] += 2 * output.numel() * k

    def linear_hook(module, inputs, output):
        total[0] += 2 * output.numel() * module.in_features

    handles = [m.register_forward_hook(conv_hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        net(images)
    for h in handles:
        h.remove()
    return total[0] / images.shape[0]


def make_optimizer(net, c):
    if c["optimizer"] == "AdamW":
        return torch.optim.AdamW(net.parameters(), lr=c["learningRate"], weight_decay=c["weightDecay"])
    if c["optimizer"] == "Adam":
        return torch.optim.Adam(net.parameters(), lr=c["learningRate"], weight_decay=c["weightDecay"])
    raise ValueError(c["optimizer"])


def step(net, optimizer, images, weights):
    """One training step; returns the seconds of forward (with the loss), backward and the optimizer's step."""
    t0 = time.perf_counter()
    optimizer.zero_grad()
    outputs = net(images)
    loss = sum((o * w).sum() for o, w in zip(outputs, weights))
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    optimizer.step()
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def profile_shares(net, optimizer, images, weights, steps):
    """Self CPU time by operator family over a few steps."""
    with torch.autograd.profiler.profile() as prof:
        for _ in range(steps):
            step(net, optimizer, images, weights)
    families = {"convolution": 0.0, "batch_norm": 0.0, "optimizer": 0.0, "other": 0.0}
    im2col = 0.0
    for e in prof.key_averages():
        name = e.key
        if name.startswith("aten::_slow_conv2d") or name.startswith("aten::thnn_conv2d"):
            im2col += e.self_cpu_time_total
        if "conv" in name or "mkldnn" in name:
            families["convolution"] += e.self_cpu_time_total
        elif "batch_norm" in name:
            families["batch_norm"] += e.self_cpu_time_total
        elif name.startswith("Optimizer.") or "foreach" in name or "addcdiv" in name or "addcmul" in name or "lerp" in name:
            families["optimizer"] += e.self_cpu_time_total
        else:
            families["other"] += e.self_cpu_time_total
    total = sum(families.values())
    shares = {k: v / total for k, v in families.items()}
    # Part of "convolution": the convolutions ATen ran as im2col + BLAS instead of through oneDNN. PyTorch 1.13 does
    # that for unstrided, undilated 1x1 kernels at one thread and a batch below 16 (ConvParams::use_mkldnn), and
    # Debian links it to whatever libblas.so.3 is installed (see blas_in_use), so a one-thread comparison can measure
    # the BLAS rather than the two libtorches.
    shares["of_which_im2col_blas"] = im2col / total
    return shares


def blas_in_use():
    """The BLAS library torch calls here: its build's BLAS_INFO and the file this process mapped for it."""
    info = next((part.split("=", 1)[1] for part in torch.__config__.show().replace(",", " ").split() if part.startswith("BLAS_INFO=")), "unknown")
    torch.ones(4, 4) @ torch.ones(4, 4)
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1].rsplit("/", 1)[-1]})
    return f"{info} ({', '.join(paths) if paths else 'no BLAS library mapped'})"


def gradient_check():
    """Input gradients of the convolution shapes oneDNN got wrong at AVX-512 (libtorch 2.10), float32 vs float64."""
    torch.manual_seed(5)
    worst = []
    for cin, cout, k, s, d in [(128, 36, 3, 1, 1), (128, 24, 3, 1, 1), (128, 30, 3, 1, 1), (24, 36, 3, 2, 1), (48, 18, 3, 1, 2), (12, 36, 5, 1, 1)]:
        conv = nn.Conv2d(cin, cout, k, s, d * (k - 1) // 2, dilation=d)
        x = (torch.randn(8, cin, 16, 16) * 0.5).requires_grad_(True)
        y = conv(x)
        g = torch.randn(y.shape) * 0.01
        (y * g).sum().backward()
        x64 = x.detach().double().requires_grad_(True)
        y64 = F.conv2d(x64, conv.weight.detach().double(), conv.bias.detach().double(), s, d * (k - 1) // 2, d)
        (y64 * g.double()).sum().backward()
        worst.append(((x.grad.double() - x64.grad).abs().max() / x64.grad.abs().max()).item())
    return max(worst)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile-steps", type=int, default=0)
    parser.add_argument("--gradient-check", action="store_true")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    with open(f"{a.folder}/config.json") as f:
        c = json.load(f)
    net = {"ssd": SsdNetwork, "deeplab": DeepLabNetwork, "conv": SingleConvolution}[c["network"]](c)
    state = read_safetensors(f"{a.folder}/weights.safetensors")
    # DeepLabNetwork.cs registers its backbone twice (as `backbone` and as the `_backbone` field it keeps for the
    # ISegmentationBackbone view), so its state_dict holds each backbone tensor under both prefixes.
    state = {k: v for k, v in state.items() if not k.startswith("_backbone.")}
    net.load_state_dict(state, strict=True)
    batch = read_safetensors(f"{a.folder}/batch.safetensors")
    images = batch["images"].requires_grad_(c["network"] == "conv")
    n_out = sum(1 for k in batch if k.startswith("weight"))
    weights = [batch[f"weight{i}"] for i in range(n_out)]

    net.eval()
    with torch.no_grad():
        outputs = net(images)
    diff = max(((o - batch[f"reference{i}"]).abs().max() / batch[f"reference{i}"].abs().max()).item() for i, o in enumerate(outputs))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN (mkldnn) {torch.backends.mkldnn.is_available()}, BLAS {blas_in_use()}")
    print(f"eval outputs vs MLNetExtensions: max |diff| / max |value| = {diff:.2e}")
    print(f"forward_flops_per_image {forward_flops(net, images):.0f}")
    if a.gradient_check:
        print(f"conv input-gradient check at the faulty AVX-512 shapes (float32 vs float64, worst relative error): {gradient_check():.2e}")

    if diff >= 1e-3:
        print("the twin does not compute what the C# network computes; nothing timed")
        return 3

    net.train()
    optimizer = make_optimizer(net, c)
    for _ in range(a.warmup):
        step(net, optimizer, images, weights)
    images_cl = images.detach().contiguous(memory_format=torch.channels_last).requires_grad_(images.requires_grad)
    for _ in range(a.warmup):
        step(net, optimizer, images_cl, weights)
    # Served in blocks, so the bench can alternate blocks of its own steps with these on the same cores.
    print("ready", flush=True)
    parts = []
    for line in sys.stdin:
        command = line.split()
        if command[:1] != ["steps"]:
            break
        # "steps K channels_last": the same steps on the batch in channels-last memory (as the library's SSD computes;
        # the weights stay NCHW on both sides), the layout PyTorch's CPU tuning guide recommends for convolutions.
        channels_last = command[2:] == ["channels_last"]
        block = [step(net, optimizer, images_cl if channels_last else images, weights) for _ in range(int(command[1]))]
        if not channels_last:
            parts.extend(block)
        print(f"block {statistics.median(sum(p) for p in block):.6f}", flush=True)
    medians = [statistics.median(p[k] for p in parts) for k in range(3)]
    print("step (each part's median): " + ", ".join(f"{name} {m / sum(medians):.0%}" for name, m in zip(["forward", "backward", "optimizer"], medians)))
    if a.profile_steps > 0:
        shares = profile_shares(net, optimizer, images, weights, a.profile_steps)
        print("profile (self CPU time) " + " ".join(f"{k}={v:.3f}" for k, v in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
