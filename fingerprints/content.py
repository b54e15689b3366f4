"""Evidence from the values themselves, independent of names and roles.

``storage_explains``: whether the suspect differs from the reference by no more than its own storage type can
round (so a quantized or half-precision copy is not called a fine-tune when only rounding moved its values).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from fingerprints.canon import as_array, shape_of

QUANT_BLOCK = 32  # ggml's block length along a row (the K-quants' sub-blocks are 16 or 32)
MANTISSA_BITS = {"F16": 10, "BF16": 7, "F8_E4M3": 3, "F8_E5M2": 2}
LOSSLESS = {"F32", "F64"}
EXPLAINED_FRACTION = 0.999  # values within one rounding step; the rest may sit at a clamped block end


def value_bits(dtype: str | None) -> tuple[str, int] | None:
    """("float", mantissa bits) or ("block", bits per weight) of a lossy storage type; None when lossless or
    unknown. Block types are named with their bit width (Q4_0, Q6_K, IQ2_XXS, TQ1_0, MXFP4...)."""
    if not dtype:
        return None
    d = str(dtype).upper()
    if d in LOSSLESS:
        return None
    if d in MANTISSA_BITS:
        return "float", MANTISSA_BITS[d]
    m = re.match(r"^(?:IQ|Q|TQ|I|MXFP)(\d+)", d)
    if m:
        return "block", max(1, int(m.group(1)))
    return None


def rounding_bound(values: np.ndarray, kind: str, bits: int) -> np.ndarray:
    """Per-element upper bound on how far storage of this type moved a value, from the stored values alone.

    Floats: half a unit in the last place, taken generously as 2^-mantissa of the magnitude. Block quantization
    with b bits: the grid step of a block is at most its largest magnitude / (2^(b-1) - 1) (Q8_0: amax/127; Q4_0:
    amax/8; K-quants with a minimum: range/(2^b - 1) ≤ 2·amax/(2^b - 1)); one full step covers rounding and the
    clamped end of the range.
    """
    v = np.abs(values.astype(np.float32).reshape(-1))
    if kind == "float":
        return v * np.float32(2.0 ** -bits) + np.float32(1e-7)
    levels = max(1, 2 ** (bits - 1) - 1)
    n = v.size - v.size % QUANT_BLOCK
    amax = np.empty_like(v)
    if n:
        amax[:n] = np.repeat(v[:n].reshape(-1, QUANT_BLOCK).max(axis=1), QUANT_BLOCK)
    if n < v.size:
        amax[n:] = v[n:].max()
    return amax / np.float32(levels) * np.float32(1.0001) + np.float32(1e-7)


def storage_explains(ref: Mapping[str, Any], sus: Mapping[str, Any]) -> dict | None:
    """Do the suspect's lossy-stored tensors lie within one rounding step of the reference's same-named, same-shaped
    tensors? None when no such pair exists (nothing to check: names or shapes differ, or nothing is lossy).

    Only a pair whose reference side is stored losslessly (or with more precision) is checked; the answer covers
    the checked tensors, and ``explained`` is False as soon as one of them moved by more than rounding allows.
    """
    checked, moved = 0, []
    for name, tb in sus.items():
        vb = value_bits(getattr(tb, "dtype", None))
        ta = ref.get(name)
        if vb is None or ta is None or shape_of(ta) != shape_of(tb):
            continue
        va = value_bits(getattr(ta, "dtype", None))
        if va is not None and (va[0] == vb[0] and va[1] <= vb[1] or va[0] == "block"):
            continue  # the reference is no more precise than the suspect
        a, b = as_array(ta).reshape(-1), as_array(tb).reshape(-1)
        within = np.abs(a - b) <= rounding_bound(b, *vb)
        checked += 1
        if within.mean() < EXPLAINED_FRACTION:
            moved.append(name)
    if not checked:
        return None
    return {"tensors_checked": checked, "tensors_moved": len(moved), "moved_examples": sorted(moved)[:5],
            "explained": not moved}
