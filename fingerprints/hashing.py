"""Per-tensor content hashes that do not depend on the tensor's name, storage dtype or shape.

``content`` hashes the values: if every float32 value is exactly representable in bfloat16 the 16 high bits are
hashed, otherwise all 32 bits. So one set of values stored as BF16 or as F32 hashes the same, and a renamed copy
is proved identical by equal hashes. ``layout`` is a value-multiset signature (count, min, max, sum of squares)
that survives transposes, row permutations and reshapes: equal layout but different content suggests the same
values in another layout (the deep comparison confirms it by sorting).

Both are computed by :class:`StreamingHash` from blocks of the tensor in C order, so a tensor never has to be in
memory whole. The sum of squares is taken over fixed segments of the flat value stream (``SEGMENT`` values, float32
each) added in float64, so it does not depend on how the stream was cut into blocks or on the tensor's shape.
(Fingerprint version 1 used one float32 dot product over the whole tensor; its layout signatures can differ from
these in the last digit, its content hashes are the same.)
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

SEGMENT = 1 << 16


class StreamingHash:
    """Content hash and layout signature of one tensor fed as consecutive float32 blocks (C order).

    ``restart`` is called (with no arguments) when a block turns out not to be bfloat16-exact after earlier blocks
    were: it must return an iterator over all blocks from the start again, so they can be hashed as float32.
    """

    def __init__(self, restart: Callable[[], object] | None = None):
        self._h = hashlib.sha1(b"v1-bf16")
        self._exact = True
        self._restart = restart
        self.size = 0
        self._min = np.inf
        self._max = -np.inf
        self._segments: list[np.ndarray] = []  # float32 sums of squares of whole segments, in stream order
        self._carry = np.zeros(0, np.float32)

    def update(self, block: np.ndarray, bits: np.ndarray | None = None) -> None:
        """Add the next block (float32; ``bits`` = its raw bfloat16 storage, when the caller has it)."""
        flat = np.ascontiguousarray(block, dtype=np.float32).reshape(-1)
        if flat.size == 0:
            return
        self._hash(flat, bits)
        self._min = min(self._min, float(flat.min()))
        self._max = max(self._max, float(flat.max()))
        self.size += flat.size
        self._sum_squares(flat)

    def _hash(self, flat: np.ndarray, bits: np.ndarray | None) -> None:
        if self._exact:
            if bits is None:
                u16 = flat.view(np.uint16)
                if not u16[0::2].any():  # little-endian: even halves are the low 16 bits
                    bits = u16[1::2]
            if bits is not None:
                self._h.update(memoryview(np.ascontiguousarray(bits, dtype=np.uint16)).cast("B"))
                return
            # Not bfloat16-exact: everything so far must be hashed again as float32 values.
            self._exact = False
            already = self.size
            self._h = hashlib.sha1(b"v1-f32")
            if already:
                if self._restart is None:
                    raise ValueError("a non-bfloat16 block after bfloat16 ones needs a restart callback")
                left = already
                for blk in self._restart():
                    f = np.ascontiguousarray(blk, dtype=np.float32).reshape(-1)[:left]
                    self._h.update(memoryview(f).cast("B"))
                    left -= f.size
                    if left <= 0:
                        break
        self._h.update(memoryview(flat).cast("B"))

    def _sum_squares(self, flat: np.ndarray) -> None:
        if self._carry.size:
            need = SEGMENT - self._carry.size
            head, flat = flat[:need], flat[need:]
            self._carry = np.concatenate([self._carry, head])
            if self._carry.size < SEGMENT:
                return
            self._segments.append(np.asarray([np.dot(self._carry, self._carry)], np.float32))
            self._carry = np.zeros(0, np.float32)
        whole = flat.size // SEGMENT * SEGMENT
        if whole:
            seg = flat[:whole].reshape(-1, SEGMENT)
            self._segments.append(np.einsum("ij,ij->i", seg, seg))
        if whole < flat.size:
            self._carry = flat[whole:].copy()

    @property
    def sum_squares(self) -> float:
        parts = list(self._segments)
        if self._carry.size:
            parts.append(np.asarray([np.dot(self._carry, self._carry)], np.float32))
        if not parts:
            return 0.0
        return float(np.concatenate(parts).astype(np.float64).sum())

    @property
    def finite(self) -> bool:
        """False once any value was NaN or ±infinity (min/max propagate NaN)."""
        return self.size == 0 or bool(np.isfinite(self._min) and np.isfinite(self._max))

    def result(self) -> dict:
        if self.size == 0:
            return {"content": hashlib.sha1(b"v1-empty").hexdigest(), "layout": "0"}
        sig = f"{self.size}:{self._min:.9g}:{self._max:.9g}:{self.sum_squares:.6e}"
        return {"content": self._h.hexdigest(), "layout": hashlib.sha1(sig.encode()).hexdigest()[:20]}


def tensor_hash(arr: np.ndarray, bf16_bits: np.ndarray | None = None) -> dict:
    """Content hash and layout signature of one tensor held in memory.

    ``bf16_bits`` (the raw uint16 storage, when the caller has it) skips the exactness check and halves the bytes
    hashed; it gives the same digest as hashing the widened float32 values.
    """
    h = StreamingHash()
    h.update(np.asarray(arr, dtype=np.float32), bf16_bits)
    return h.result()
