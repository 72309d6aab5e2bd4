"""Minimal safetensors reader for the float64 reference: single file or sharded index.

Returns every tensor as a float64 numpy array (BF16, F16, F32 supported). Written for clarity,
not speed; the C++ loader is the one that memory-maps and validates exhaustively.
"""

import json
import os
import struct

import numpy as np


def _bf16_to_f64(raw):
    u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
    return (u16 << 16).view(np.float32).astype(np.float64)


_DECODERS = {
    "BF16": _bf16_to_f64,
    "F16": lambda raw: np.frombuffer(raw, dtype="<f2").astype(np.float64),
    "F32": lambda raw: np.frombuffer(raw, dtype="<f4").astype(np.float64),
}


def read_file(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    base, out = 8 + n, {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = _DECODERS[meta["dtype"]](blob[base + a:base + b]).reshape(meta["shape"])
    return out


def read_dir(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        out.update(read_file(os.path.join(model_dir, fn)))
    return out
