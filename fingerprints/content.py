"""Evidence from the values themselves, independent of names and roles.

``storage_explains``: whether the suspect differs from the reference by no more than its own storage type can
round (so a quantized or half-precision copy is not called a fine-tune when only rounding moved its values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from fingerprints.canon import EMBED, as_array, shape_of

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
        return v * np.float32(2.0**-bits) + np.float32(1e-7)
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
    return {
        "tensors_checked": checked,
        "tensors_moved": len(moved),
        "moved_examples": sorted(moved)[:5],
        "explained": not moved,
    }


DRIFT_ROWS = 32  # rows read per matrix for the drift estimate (evenly spaced)


def value_drift(ref: Mapping[str, Any], sus: Mapping[str, Any]) -> dict | None:
    """How far the suspect's values moved from the reference's, tensor by tensor (same name and shape, 2-D),
    estimated on evenly spaced rows: the median and largest relative Frobenius change. None when no tensors
    line up (then nothing is claimed)."""
    from fingerprints.canon import read_rows

    rel = []
    for name, tb in sus.items():
        ta = ref.get(name)
        if ta is None or len(shape_of(tb)) != 2 or shape_of(ta) != shape_of(tb):
            continue
        rows = np.unique(np.linspace(0, shape_of(tb)[0] - 1, DRIFT_ROWS).round().astype(np.int64))
        a, b = read_rows(ta, rows).astype(np.float64), read_rows(tb, rows).astype(np.float64)
        na = float(np.linalg.norm(a))
        if na > 0:
            rel.append(float(np.linalg.norm(a - b)) / na)
    if not rel:
        return None
    return {"tensors": len(rel), "median": float(np.median(rel)), "max": float(np.max(rel))}


# ------------------------------------------------------------------------------------------ copy evidence
# A tensor counts as copy evidence only when it holds at least MIN_COPY_VALUES values, is not constant, and at least
# MIN_DISTINCT of its first 4096 values differ: norms left at one, zero biases, identity or ternary matrices are
# shared by models that never met, trained float weights are not.
MIN_COPY_VALUES = 1024
MIN_DISTINCT = 256
# The bound on the chance that independent training reproduces a given informative tensor: 2^-64 when the values
# themselves were compared (exactly, in order, or as sorted multisets), 2^-32 when only a value-multiset signature
# (count, min, max, sum of squares) was (fingerprint mode). See docs/lineage.md: the true chance is below 2^-n for n
# distinct values; 64 bits is deliberately weak.
COPY_BITS = 64
SIGNATURE_BITS = 32
LN2 = 0.6931471805599453


def informative(info: Mapping[str, Any]) -> bool:
    """Can this tensor's values be evidence of copying? (needs the version-4 fields; older hashes never count)"""
    if "min" not in info or "distinct_head" not in info:
        return False
    n = int(np.prod(info.get("shape") or [0]))
    return n >= MIN_COPY_VALUES and info["min"] < info["max"] and info["distinct_head"] >= MIN_DISTINCT


def _multiset_key(info: Mapping[str, Any]) -> tuple | None:
    if "min" not in info:
        return None
    return int(np.prod(info.get("shape") or [0])), info["min"], info["max"]


SUMSQ_RTOL = 1e-5  # float32 sums of squares of one multiset in two layouts differ by rounding only (~1e-7)


def _same_sumsq(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    sa, sb = a.get("sumsq"), b.get("sumsq")
    if sa is None or sb is None:
        return False
    return abs(sa - sb) <= SUMSQ_RTOL * max(abs(sa), abs(sb))


def match_tensors(
    ha: Mapping[str, dict], hb: Mapping[str, dict], comparable: bool = True
) -> tuple[dict[str, str], dict[str, str]]:
    """Suspect tensor → reference tensor, by content: ``exact`` (same values in the same order, any name, shape
    or storage dtype; only when the hashes are ``comparable``) and ``multiset`` candidates (same count, min and max,
    sums of squares equal up to rounding; the caller confirms them on the sorted values when it has them). Each
    reference tensor is used once; a suspect tensor keeps its own name when that reference tensor matches (deterministic
    otherwise)."""
    exact: dict[str, str] = {}
    if comparable:
        by_content: dict[str, list[str]] = {}
        for n in sorted(ha, key=lambda m: (m != EMBED, m)):  # a tied head is its embedding
            by_content.setdefault(ha[n]["content"], []).append(n)
        for n in sorted(hb, key=lambda m: (m not in ha, m)):  # same-name matches first
            pool = by_content.get(hb[n]["content"], [])
            if pool:
                r = n if n in pool else pool[0]
                pool.remove(r)
                exact[n] = r
    used = set(exact.values())
    by_key: dict[tuple, list[str]] = {}
    for n in sorted(ha):
        k = _multiset_key(ha[n])
        if n not in used and k is not None and informative(ha[n]):
            by_key.setdefault(k, []).append(n)
    multiset: dict[str, str] = {}
    for n in sorted(hb, key=lambda m: (m not in ha, m)):
        k = _multiset_key(hb[n])
        if n in exact or k is None or not informative(hb[n]):
            continue
        pool = [r for r in by_key.get(k, []) if _same_sumsq(ha[r], hb[n])]
        if pool:
            r = n if n in pool else pool[0]
            by_key[k].remove(r)
            multiset[n] = r
    return exact, multiset


def copy_evidence(
    ha: Mapping[str, dict],
    hb: Mapping[str, dict],
    exact: Mapping[str, str],
    multiset: Mapping[str, str],
    verified: bool,
    source_names: Mapping[str, str] | None = None,
    how: Mapping[str, str] | None = None,
) -> dict:
    """The copy-evidence block of a report and its ln p bound.

    ``verified``: the multiset matches were confirmed on the sorted values (deep mode), not only by signature.
    The bound is the single strongest matched tensor's (2^-64 or 2^-32): tensors of one model are trained
    together, so their chances are not multiplied.
    """
    names = source_names or {}
    ex = [(s, r) for s, r in sorted(exact.items()) if informative(hb[s]) and informative(ha[r])]
    ms = [(s, r) for s, r in sorted(multiset.items())]
    bits = 0
    if ex:
        bits = COPY_BITS
    elif ms:
        bits = COPY_BITS if verified else SIGNATURE_BITS
    ln_p = -bits * LN2
    return {
        "copied": [{"suspect": names.get(s, s), "reference": r} for s, r in ex],
        "renamed": [{"suspect": names.get(s, s), "reference": r} for s, r in ex if names.get(s, s) != r],
        "layout_changed": [
            {"suspect": names.get(s, s), "reference": r, "how": (how or {}).get(s, "same value multiset (signature)")}
            for s, r in ms
        ],
        "ignored_uninformative": sum(1 for s, r in exact.items() if (s, r) not in ex),
        "multiset_verified": bool(verified),
        "bound_bits_per_tensor": bits,
        "ln_p": ln_p,
        "log10_p": ln_p / np.log(10.0),
    }


def recover_layout(ta: Any, tb: Any) -> tuple[np.ndarray, str] | None:
    """The suspect tensor ``tb`` in the reference's layout, when it holds exactly the reference's multiset of values
    (checked on the sorted values), with how it was re-laid-out; None when the values differ."""
    a, b = as_array(ta), as_array(tb)
    if a.size != b.size:
        return None
    if b.ndim == 2 and b.T.shape == a.shape and np.array_equal(b.T, a):
        return np.ascontiguousarray(b.T), "transposed"
    if a.ndim == 2 and np.array_equal(b.reshape(a.shape[::-1]).T, a):  # a flat buffer rewritten as its transpose
        return np.ascontiguousarray(b.reshape(a.shape[::-1]).T), "transposed"
    if a.ndim == 2 and b.shape == a.shape and _same_rows(a, b):
        return _rebuild(a, b), "rows permuted"
    if np.array_equal(np.sort(a, axis=None), np.sort(b, axis=None)):
        return _rebuild(a, b), "values rearranged (blocks or elements permuted)"
    return None


def _same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    ka = np.sort(np.ascontiguousarray(a).view(np.dtype((np.void, a.shape[1] * 4))).reshape(-1))
    kb = np.sort(np.ascontiguousarray(b).view(np.dtype((np.void, b.shape[1] * 4))).reshape(-1))
    return bool(np.array_equal(ka, kb))


def _rebuild(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The suspect's values placed by rank where the reference has them (equal to ``a`` exactly when the multisets
    are equal: the layout is recovered from the values, not assumed)."""
    out = np.empty(a.size, np.float32)
    out[np.argsort(a, axis=None, kind="stable")] = np.sort(b, axis=None)
    return out.reshape(a.shape)
