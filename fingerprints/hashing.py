"""Per-tensor content hashes that do not depend on the tensor's name, storage dtype or shape.

``content`` hashes the values: if every float32 value is exactly representable in bfloat16 the 16 high bits are
hashed, otherwise all 32 bits. So one set of values stored as BF16 or as F32 hashes the same, and a renamed copy
is proved identical by equal hashes. ``layout`` is a value-multiset signature (count, min, max, sum of squares)
that survives transposes, row permutations and reshapes: equal layout but different content suggests the same
values in another layout (the deep comparison confirms it by sorting).

Both are computed by :class:`StreamingHash` from blocks of the tensor in C order, so a tensor never has to be in
memory whole. The sum of squares is a float32 dot product per block added in float64; block boundaries depend on
the shape only (see ``fingerprints.fingerprint._Blocks``), so every source of one tensor gives the same signature,
and a transposed copy the same one up to rounding (it is written with 6 significant digits). Fingerprint versions
1 and 2 hashed content with SHA-1 and summed squares differently; version 3 uses BLAKE3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import blake3
import numpy as np

# The content hash: BLAKE3 (a cryptographic hash, about 2.5× faster than SHA-1 here) cut to 160 bits. Fingerprint
# versions 1 and 2 used SHA-1; ``HASH_NAME`` is stored in each fingerprint so hashes of different kinds are never
# compared with each other.
HASH_NAME = "blake3-160"
DIGEST_BYTES = 20


def _new_hash(tag: bytes):
    return blake3.blake3(tag)


def _hex(h) -> str:
    return h.hexdigest(length=DIGEST_BYTES)


class StreamingHash:
    """Content hash and layout signature of one tensor fed as consecutive float32 blocks (C order).

    ``restart`` is called (with no arguments) when a block turns out not to be bfloat16-exact after earlier blocks
    were: it must return an iterator over all blocks from the start again, so they can be hashed as float32.
    """

    def __init__(self, restart: Callable[[], object] | None = None):
        self._h = _new_hash(b"v1-bf16")
        self._exact = True
        self._restart = restart
        self.size = 0
        self._min = np.inf
        self._max = -np.inf
        self._sumsq = 0.0

    def update(self, block: np.ndarray, bits: np.ndarray | None = None) -> None:
        """Add the next block (float32; ``bits`` = its raw bfloat16 storage, when the caller has it)."""
        flat = np.ascontiguousarray(block, dtype=np.float32).reshape(-1)
        if flat.size == 0:
            return
        exact_bits = self._hash(flat, bits)
        lo, hi = _bf16_extremes(exact_bits) if exact_bits is not None else (float(flat.min()), float(flat.max()))
        self._min = min(self._min, lo) if lo == lo else lo  # NaN sticks, as it does in np.min
        self._max = max(self._max, hi) if hi == hi else hi
        self.size += flat.size
        self._sum_squares(flat)

    def _hash(self, flat: np.ndarray, bits: np.ndarray | None) -> np.ndarray | None:
        """Hash one block; returns its bfloat16 bits when it was hashed as bfloat16 (caller's bits only: finding
        them in a float32 block costs more than the float32 min/max they would save)."""
        if self._exact:
            given = bits is not None
            if bits is None:
                u16 = flat.view(np.uint16)
                if not u16[0::2].any():  # little-endian: even halves are the low 16 bits
                    bits = u16[1::2]
            if bits is not None:
                bits = np.ascontiguousarray(bits, dtype=np.uint16)
                self._h.update(memoryview(bits).cast("B"))
                return bits if given else None
            # Not bfloat16-exact: everything so far must be hashed again as float32 values.
            self._exact = False
            already = self.size
            self._h = _new_hash(b"v1-f32")
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
        return None

    def _sum_squares(self, flat: np.ndarray) -> None:
        self._sumsq += float(np.dot(flat, flat))  # float32 BLAS dot per block, added in float64

    @property
    def value_min(self) -> float:
        return self._min + 0.0

    @property
    def value_max(self) -> float:
        return self._max + 0.0

    @property
    def sum_squares(self) -> float:
        return self._sumsq

    @property
    def finite(self) -> bool:
        """False once any value was NaN or ±infinity (min/max propagate NaN)."""
        return self.size == 0 or bool(np.isfinite(self._min) and np.isfinite(self._max))

    def result(self) -> dict:
        if self.size == 0:
            return {"content": _hex(_new_hash(b"v1-empty")), "layout": "0"}
        sig = f"{self.size}:{self._min + 0.0:.9g}:{self._max + 0.0:.9g}:{self.sum_squares:.6e}"  # -0.0 → 0.0
        return {"content": _hex(self._h), "layout": hashlib.sha1(sig.encode()).hexdigest()[:20]}


def _bf16_value(pattern: int) -> float:
    return float(np.array([pattern << 16], np.uint32).view(np.float32)[0])


def _bf16_extremes(bits: np.ndarray) -> tuple[float, float]:
    """(min, max) of bfloat16 values from their bits, NaN when any is NaN or infinite (the caller only needs to know
    that), reducing 2-byte integers instead of widened floats. bfloat16 is sign-magnitude: as int16 the largest
    non-negative pattern is the largest positive value; as uint16 the largest pattern with the sign bit is the most
    negative value, and the smallest pattern within one sign is the value nearest zero."""
    smax, umax = int(bits.view(np.int16).max()), int(bits.max())
    if smax >= 0x7F80 or umax >= 0xFF80:  # exponent all ones: ±infinity or NaN
        return float("nan"), float("nan")
    has_pos, has_neg = smax >= 0, umax >= 0x8000
    umin = int(bits.min()) if not (has_pos and has_neg) else 0
    hi = smax if has_pos else umin
    lo = umax if has_neg else umin
    return _bf16_value(lo), _bf16_value(hi)


def tensor_hash(arr: np.ndarray, bf16_bits: np.ndarray | None = None) -> dict:
    """Content hash and layout signature of one tensor held in memory.

    ``bf16_bits`` (the raw uint16 storage, when the caller has it) skips the exactness check and halves the bytes
    hashed; it gives the same digest as hashing the widened float32 values.
    """
    h = StreamingHash()
    h.update(np.asarray(arr, dtype=np.float32), bf16_bits)
    return h.result()
