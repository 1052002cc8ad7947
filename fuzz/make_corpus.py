#!/usr/bin/python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from real files: the first images of
Debian's Fashion-MNIST, the CIFAR-10 sample in shared/data, small PNG/JPEG/BMP/GIF/PPM crops of
those images (Pillow), and a tiny real run of `mmgan train` (its config.json and checkpoint, made
with the settings of tests/trainer_util.h's tiny_config(), which fuzz/checkpoint.cpp uses). Input formats: fuzz/harness.h.

  /usr/bin/python3 fuzz/make_corpus.py --mmgan build/tools/mmgan [--cifar shared/data/cifar10-sample/...]
"""
import argparse
import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import st_io  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx_head(split, kind, n):
    """The first n records of a real idx file, with the count in its header set to n."""
    with gzip.open(os.path.join(FMNIST, f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz")) as f:
        raw = f.read()
    head = 16 if kind == "images" else 8
    rec = 28 * 28 if kind == "images" else 1
    return raw[:4] + struct.pack(">I", n) + raw[8:head] + raw[head:head + n * rec]


def fmnist_images(n):
    b = idx_head("train", "images", n)
    return np.frombuffer(b[16:], np.uint8).reshape(n, 28, 28)


def idx_corpus():
    for split, n, opts in [("train", 2, 0), ("t10k", 3, 1 | (27 << 1)), ("train", 1, 1 | (7 << 1))]:
        images, labels = idx_head(split, "images", n), idx_head(split, "labels", n)
        write("idx", f"{split}-{n}-opts{opts}", bytes([opts]) + struct.pack("<I", len(images)) + images + labels)

def cifar_corpus(cifar):
    with open(cifar, "rb") as f:
        raw = f.read(2 * 3073)
    write("cifar10", "two-records", raw)
    write("cifar10", "one-record", raw[:3073])
    return np.frombuffer(raw[1:3073], np.uint8).reshape(3, 32, 32).transpose(1, 2, 0)


def image_corpus(rgb32, grey28):
    def enc(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()

    rgb = Image.fromarray(np.ascontiguousarray(rgb32[4:12, 2:14]))  # 12x8
    grey = Image.fromarray(np.ascontiguousarray(grey28[6:15, 9:16]))  # 7x9
    rgba = rgb.convert("RGBA")
    seeds = [
        ("rgb.png", enc(rgb, "PNG"), 0),
        ("grey.png", enc(grey, "PNG"), 1),
        ("rgba.png", enc(rgba, "PNG"), 2 | (5 << 2)),
        ("palette.png", enc(rgb.convert("P"), "PNG"), 0xE0),
        ("rgb.jpg", enc(rgb, "JPEG", quality=90), 0),
        ("grey.jpg", enc(grey, "JPEG", quality=75), 1 | 0x40),
        ("progressive.jpg", enc(rgb, "JPEG", quality=60, progressive=True), 2 | (3 << 2)),
        ("rgb.bmp", enc(rgb, "BMP"), 0x20),
        ("grey.gif", enc(grey, "GIF"), 1),
        ("rgb.ppm", enc(rgb, "PPM"), 0),
        ("rgb.tga", enc(rgb, "TGA"), 0),
    ]
    for name, data, opts in seeds:
        write("image", name, bytes([opts]) + data)


# tiny_config() of tests/trainer_util.h (the checkpoint target's trainer), as flags.
TINY = ["--image_size", "16", "--n_colors", "1", "--z_size", "8", "--G_h_size", "4", "--D_h_size", "4",
        "--batch_size", "6", "--n_samples", "4", "--seed", "3"]


def run_corpus(mmgan, grey28s):
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "images")
        os.makedirs(folder)
        for i, g in enumerate(grey28s):
            Image.fromarray(np.ascontiguousarray(g[6:22, 6:22])).save(os.path.join(folder, f"{i}.png"))
        runs = os.path.join(tmp, "runs")
        common = ["--dataset", "folder", "--input_folder", folder, "--output_folder", runs, "--n_iter", "2",
                  "--save_every", "1", "--print_every", "100", "--log_every", "1"]
        subprocess.run([mmgan, "train", *common, *TINY, "--run_name", "tiny"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([mmgan, "train", *common, *TINY, "--run_name", "wgan", "--loss_D", "4", "--gp-norm", "l2",
                        "--penalty-type", "squared-diff", "--grad_penalty_aug", "--spectral", "--decay", "0.01"],
                       check=True, stdout=subprocess.DEVNULL)
        folder_of = {run: os.path.join(runs, d) for run in ["tiny", "wgan"] for d in os.listdir(runs)
                     if d.startswith(run + "-")}  # run folders are numbered: tiny-0
        for run, d in folder_of.items():
            with open(os.path.join(d, "config.json"), "rb") as f:
                write("config", f"{run}.json", f.read())
        with open(os.path.join(folder_of["tiny"], "checkpoint.safetensors"), "rb") as f:
            ckpt = f.read()
        write("checkpoint", "tiny.safetensors", ckpt)
        write("safetensors", "tiny-checkpoint.safetensors", ckpt)
        # Every dtype the loader reads, a 0-d and an empty tensor, metadata.
        f = os.path.join(tmp, "dtypes.safetensors")
        st_io.save(f, {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "d": np.array(0.5),
                       "n": np.array([1, -2], dtype=np.int64), "e": np.zeros((0, 3), np.float32)},
                   {"format": "x", "note": "seed"})
        with open(f, "rb") as fh:
            write("safetensors", "dtypes.safetensors", fh.read())

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mmgan", required=True, help="the mmgan binary (for the tiny run)")
    ap.add_argument("--cifar", default=os.path.join(HERE, "..", "..", "shared", "data", "cifar10-sample",
                                                    "data_batch_1_first474.bin"),
                    help="CIFAR-10 records (default: the workspace's sample next to the checkout)")
    a = ap.parse_args()
    shutil.rmtree(os.path.join(HERE, "corpus"), ignore_errors=True)
    idx_corpus()
    rgb32 = cifar_corpus(a.cifar)
    grey = fmnist_images(8)
    image_corpus(rgb32, grey[0])
    run_corpus(a.mmgan, grey)


if __name__ == "__main__":
    main()
