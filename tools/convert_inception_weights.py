#!/usr/bin/env python3
"""Converts pytorch-fid's FID Inception weights to the safetensors file mmgan loads.

    /usr/bin/python3 tools/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth inception-fid.safetensors

The input is the state_dict pytorch-fid downloads from
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
(the TensorFlow FID graph of Heusel et al. ported to torchvision's Inception3 layout). Key names are
kept (mmgan's InceptionV3Fid uses torchvision's), tensors become float32, BatchNorm counters int64; a
file without num_batches_tracked gets 0, as PyTorch's loader does for old files. The file's SHA-256
goes into the metadata. torchvision's ImageNet Inception (1000 classes) is refused: its features give
different FIDs from everyone else's. Needs Debian's python3-torch and python3-numpy only.
"""
import hashlib
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_io import save  # noqa: E402

FID_CLASSES = 1008  # the TensorFlow graph's classifier; torchvision's ImageNet model has 1000
REQUIRED = ["Conv2d_1a_3x3.conv.weight", "Mixed_7c.branch_pool.conv.weight", "fc.weight"]


def fail(msg):
    print(f"convert_inception_weights: {msg}", file=sys.stderr)
    sys.exit(1)


def convert(src, dst):
    if not os.path.isfile(src):
        fail(f"{src}: no such file")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    try:
        sd = torch.load(src, map_location="cpu")
    except Exception as e:  # torch raises many kinds for a bad file
        fail(f"{src}: not a PyTorch file ({e})")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        fail(f"{src}: expected a state_dict (a dict of tensors)")
    missing = [k for k in REQUIRED if k not in sd]
    if missing:
        fail(f"{src}: not an Inception-v3 state_dict (missing {', '.join(missing)})")
    if sd["fc.weight"].shape[0] != FID_CLASSES:
        fail(f"{src}: the classifier has {sd['fc.weight'].shape[0]} classes, the FID Inception has {FID_CLASSES}: "
             "this is not pytorch-fid's pt_inception-2015-12-05 file")
    out = {}
    for k, v in sd.items():
        out[k] = v.numpy().astype(np.int64 if k.endswith("num_batches_tracked") else np.float32)
    for k in [k for k in sd if k.endswith(".bn.running_var")]:
        counter = k[: -len("running_var")] + "num_batches_tracked"
        out.setdefault(counter, np.array(0, dtype=np.int64))
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)  # e.g. ~/.cache/mmgan on first use
    save(dst + ".tmp", out, {"format": "mmgan-inception-fid", "source": os.path.basename(src), "sha256": digest})
    os.replace(dst + ".tmp", dst)  # atomic: a failed run never leaves half a file under dst
    print(f"wrote {dst}: {len(out)} tensors, source sha256 {digest[:8]}...")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    convert(sys.argv[1], sys.argv[2])
