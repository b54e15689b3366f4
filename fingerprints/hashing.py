"""Per-tensor content hashes that do not depend on the tensor's name, storage dtype or shape.

``content`` hashes the values: if every float32 value is exactly representable in bfloat16 the 16 high bits are
hashed, otherwise all 32 bits. So one set of values stored as BF16 or as F32 hashes the same, and a renamed copy
is proved identical by equal hashes. ``layout`` is a value-multiset signature (count, min, max, sum of squares)
that survives transposes, row permutations and reshapes: equal layout but different content suggests the same
values in another layout (the deep comparison confirms it by sorting).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _layout(arr: np.ndarray) -> str:
    flat = arr.reshape(-1)
    sig = f"{flat.size}:{float(flat.min()):.9g}:{float(flat.max()):.9g}:{float(np.dot(flat, flat)):.6e}"
    return hashlib.sha1(sig.encode()).hexdigest()[:20]


def tensor_hash(arr: np.ndarray, bf16_bits: np.ndarray | None = None) -> dict:
    """Content hash and layout signature of one tensor.

    ``bf16_bits`` (the raw uint16 storage, when the caller has it) skips the exactness check and halves the bytes
    hashed; it gives the same digest as hashing the widened float32 values.
    """
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.size == 0:
        return {"content": hashlib.sha1(b"v1-empty").hexdigest(), "layout": "0"}
    if bf16_bits is None:
        u16 = arr.reshape(-1).view(np.uint16)
        if not u16[0::2].any():  # little-endian: even halves are the low 16 bits
            bf16_bits = np.ascontiguousarray(u16[1::2])
    if bf16_bits is not None:
        h = hashlib.sha1(b"v1-bf16")
        h.update(memoryview(np.ascontiguousarray(bf16_bits, dtype=np.uint16).reshape(-1)).cast("B"))
    else:
        h = hashlib.sha1(b"v1-f32")
        h.update(memoryview(arr.reshape(-1)).cast("B"))
    return {"content": h.hexdigest(), "layout": _layout(arr)}
