"""Minimal safetensors reader/writer in plain Python + NumPy (tools/convert_inception_weights.py and
the test oracles use it), so nothing beyond Debian's python3-numpy (and python3-torch) is needed."""
import json
import struct

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=_DT[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta


def save(path, tensors, meta=None):
    header, chunks, off = {}, [], 0
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn a 0-d scalar into shape [1])
            arr = arr.copy(order="C")
        dt = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}[arr.dtype]
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
