"""Known answers for FelzenszwalbSegmentation: skimage.segmentation.felzenszwalb of scikit-image 0.19.

Run with Debian's interpreter (python3-skimage 0.19, numpy 1.24, scipy 1.10), from any folder:

    /usr/bin/python3 tests/MLNetExtensions.Tests/TestData/SelectiveSearch/make_felzenszwalb_fixtures.py

Writes next to this script: the input images as 8-bit PNGs, one gzip'd little-endian int32 label map (H*W, row
major) per case, and felzenszwalb.json listing the cases with skimage's segment counts.

numpy 1.24 computes exp with its own AVX-512F kernel where the CPU has one and with the C library's exp elsewhere;
the two differ in the last bit for about a quarter of the Gaussian kernel's taps, so skimage's smoothing (and, in
principle, its labels) depend on the CPU. The reference labels are computed with numpy's AVX-512 kernels switched off
(NPY_DISABLE_CPU_FEATURES), the path every CPU takes and the one System.Math.Exp matches; each case records whether
the AVX-512 run gave the same labels.
"""
import gzip
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
AVX512 = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"

# (scale, sigma, min_size): skimage's defaults, the brief's grid corners, no smoothing (ties everywhere: uint8 input
# gives many equal costs, so the tie order of numpy's argsort decides merges) and a 9-tap kernel (sigma 1.2) whose
# normalising sum goes through numpy's 8-way pairwise summation.
PARAMS = [
    (1.0, 0.8, 20),
    (100.0, 0.5, 50),
    (500.0, 0.8, 50),
    (100.0, 0.0, 20),
    (1.0, 0.0, 0),
    (300.0, 1.2, 20),
]


def blobs(seed, height, width):
    """Seeded random ellipses and rectangles on a gradient, with noise: uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, 3)
    grad = rng.integers(-60, 60, 3)
    img = base[None, None, :] + grad[None, None, :] * (xx[..., None] / width)
    for _ in range(int(rng.integers(4, 9))):
        color = rng.integers(0, 256, 3)
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        ry, rx = rng.integers(5, height // 3), rng.integers(5, width // 3)
        if rng.random() < 0.5:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        else:
            mask = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        img[mask] = color
    img = img + rng.normal(0.0, 6.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def images():
    import skimage.data
    return {
        "blobs-0.png": blobs(0, 96, 128),
        "blobs-1.png": blobs(1, 80, 120),
        "blobs-2.png": blobs(2, 64, 64),
        "astronaut-128.png": skimage.data.astronaut()[::4, ::4],
        "camera-128.png": skimage.data.camera()[::4, ::4],
        "coffee-500x375.png": skimage.data.coffee()[:375, :500],
    }


def cases():
    # The 500x375 image only with two parameter sets: it is there for size and speed, and its label maps are the
    # largest files.
    for name in images():
        for params in (PARAMS if not name.startswith("coffee") else [PARAMS[0], PARAMS[2]]):
            yield name, params


def label_maps():
    """All cases' skimage labels in this process (run as a child with or without AVX-512)."""
    from skimage.segmentation import felzenszwalb
    imgs = images()
    out = {}
    for i, (name, (scale, sigma, min_size)) in enumerate(cases()):
        out[f"c{i}"] = felzenszwalb(imgs[name], scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
    return out


# Smoothing alone, compared bit for bit: skimage's call inside felzenszwalb on a small random float image (7x9, 3
# channels; sigma 2 gives a radius-8 kernel, wider than the image, so 'reflect' wraps around more than once; with
# sigma 1.25 numpy's pairwise sum of the 11 taps differs from a left-to-right sum in the last bit).
SMOOTH_SIGMAS = [0.5, 0.8, 1.2, 1.25, 2.0]


def smoothing_input():
    return np.random.default_rng(7).random((7, 9, 3))


def smoothed():
    from skimage._shared.filters import gaussian
    img = smoothing_input()
    return {f"g{i}": gaussian(img, sigma=[s, s, 0], mode='reflect', channel_axis=-1)
            for i, s in enumerate(SMOOTH_SIGMAS)}


def child(path):
    np.savez(path, **label_maps(), **smoothed())


def run_child(disable_avx512):
    path = os.path.join(HERE, "_labels_avx512off.npz" if disable_avx512 else "_labels_default.npz")
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if disable_avx512:
        env["NPY_DISABLE_CPU_FEATURES"] = AVX512
    subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path], check=True, env=env)
    with np.load(path) as data:
        maps = {k: data[k] for k in data.files}
    os.remove(path)
    return maps


def main():
    from PIL import Image
    import skimage
    imgs = images()
    for name, img in imgs.items():
        Image.fromarray(img).save(os.path.join(HERE, name))
    portable = run_child(True)
    default = run_child(False)
    entries = []
    for i, (name, (scale, sigma, min_size)) in enumerate(cases()):
        labels = portable[f"c{i}"].astype("<i4")
        img = imgs[name]
        file = f"{os.path.splitext(name)[0]}_s{scale:g}_g{sigma:g}_m{min_size}.i32.gz"
        with gzip.GzipFile(os.path.join(HERE, file), "wb", mtime=0) as f:
            f.write(labels.tobytes())
        entries.append({
            "image": name,
            "height": int(img.shape[0]),
            "width": int(img.shape[1]),
            "channels": 1 if img.ndim == 2 else int(img.shape[2]),
            "pixelSum": int(img.astype(np.int64).sum()),
            "scale": scale,
            "sigma": sigma,
            "minSize": min_size,
            "segments": int(labels.max()) + 1,
            "labels": file,
            "avx512Agrees": bool(np.array_equal(portable[f"c{i}"], default[f"c{i}"])),
        })
    smoothing = {
        "height": 7, "width": 9, "channels": 3,
        "input": smoothing_input().astype("<f8").tobytes().hex(),
        "cases": [{
            "sigma": s,
            "output": portable[f"g{i}"].astype("<f8").tobytes().hex(),
            "avx512Agrees": bool(np.array_equal(portable[f"g{i}"], default[f"g{i}"])),
        } for i, s in enumerate(SMOOTH_SIGMAS)],
    }
    # numpy's argsort order of equal values, which FelzenszwalbSegmentation must reproduce: tie-heavy arrays of the
    # sizes that take the insertion sort only, and quicksort partitions down to it.
    rng = np.random.default_rng(11)
    argsort = []
    for n, distinct in [(12, 3), (200, 5), (3000, 40), (3000, 2)]:
        values = rng.integers(0, distinct, n).astype(np.float64)
        argsort.append({"values": " ".join(map(str, values.astype(int))),
                        "order": " ".join(map(str, np.argsort(values)))})
    meta = {"skimage": skimage.__version__, "numpy": np.__version__, "cases": entries, "smoothing": smoothing,
            "argsort": argsort}
    with open(os.path.join(HERE, "felzenszwalb.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for e in entries:
        print(e["labels"], e["segments"], "avx512Agrees" if e["avx512Agrees"] else "AVX-512 LABELS DIFFER")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
