"""A compact screening vector per fingerprint, so a collection is screened with one matrix product, not N×M
full comparisons.

The full comparison (``fingerprints.compare``) takes, for every pair of layers, the unbiased CKA of the token-space
Grams on the anchors both models share, and keeps the best reference layer per suspect layer. Screening only has to
rank candidates, so it keeps the same ingredients in a fixed-length form:

- per invariant (q, k, v, gate, up, o, down, qk, ov), the U-centred off-diagonal Gram entries of every present
  layer, averaged over layers (fine-tuning, quantization, dropping or repeating layers move this mean little, while
  two independently trained models differ in it as they differ layer by layer);
- each entry is keyed by its anchor pair (the pair of token strings, or token ids when no tokenizer is known), and
  the keys are feature-hashed (signed) into ``DIM`` slots. Two fingerprints then agree slot by slot on the anchors
  they share, whatever positions those anchors hold, and an anchor only one of them holds only adds noise;
- each invariant's part is scaled to unit norm and the whole vector to unit length, so the dot product of two
  vectors approximates the mean CKA over invariants of the layer-averaged Grams.

The vector is a candidate generator, never a verdict: the best-ranked candidates always get the full comparison.
Only the first ``MIN_ANCHORS`` anchors (a min-hash prefix every fingerprint holds) are used, so fingerprints made
with more anchors screen like the default ones.
"""

from __future__ import annotations

import hashlib

import numpy as np

from fingerprints.fingerprint import MIN_ANCHORS, Fingerprint

DIM = 1024  # float32 slots: 4 KB per fingerprint; 10,000 of them are 40 MB
SCREEN_VERSION = 1  # bump when the vector changes: stored vectors of another version are recomputed
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def _key(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of 64-bit integers (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M2
        x = (x ^ (x >> np.uint64(27))) * _M3
        return x ^ (x >> np.uint64(31))


def anchor_keys(fp: Fingerprint, k: int) -> list[str]:
    """A name per anchor that two fingerprints share exactly when the full comparison would pair the anchors."""
    strings = fp.anchor_strings
    if strings is not None:
        return ["s:" + s for s in strings[:k]]
    return [f"i:{int(t)}" for t in fp.anchors[:k]]


def _u_centred(g: np.ndarray) -> np.ndarray:
    """U-centring of symmetric K×K matrices [..., K, K] (Székely & Rizzo 2014), diagonals set to zero."""
    n = g.shape[-1]
    eye = np.eye(n, dtype=bool)
    g = np.where(eye, 0.0, g)
    rows = g.sum(axis=-1)
    out = (
        g
        - rows[..., :, None] / (n - 2)
        - rows[..., None, :] / (n - 2)
        + rows.sum(axis=-1)[..., None, None] / ((n - 1) * (n - 2))
    )
    return np.where(eye, 0.0, out)


def screen_vector(fp: Fingerprint, dim: int = DIM) -> np.ndarray:
    """The unit-length float32 screening vector of ``fp`` (all zeros when it has no usable layer)."""
    k_all = len(fp.meta.get("anchors") or [])
    k = min(k_all, MIN_ANCHORS)
    out = np.zeros(dim, np.float64)
    if k < 8 or len(fp.layers) == 0:
        return out.astype(np.float32)
    keys = np.array([_key(s) for s in anchor_keys(fp, k)], np.uint64)
    ii, jj = np.triu_indices(k, 1)
    lo, hi = np.minimum(keys[ii], keys[jj]), np.maximum(keys[ii], keys[jj])
    present = np.asarray(fp.meta.get("present") or np.ones((len(fp.layers), len(fp.meta["invariants"]))), bool)
    sub = np.zeros((k_all, k_all), bool)
    sub[:k, :k] = True
    keep = sub[np.triu_indices(k_all)]  # positions of the first k anchors' entries in the stored upper triangle
    iu = np.triu_indices(k)
    for j, inv in enumerate(fp.meta["invariants"]):
        rows = np.flatnonzero(present[:, j])
        if rows.size == 0:
            continue
        g = np.zeros((rows.size, k, k))
        g[:, iu[0], iu[1]] = fp.grams[rows, j][:, keep].astype(np.float64)
        g = g + np.triu(g, 1).transpose(0, 2, 1)
        vals = _u_centred(g)[:, ii, jj].mean(axis=0)
        norm = float(np.linalg.norm(vals))
        if norm == 0.0:
            continue
        with np.errstate(over="ignore"):
            h = _mix(_mix(lo * _M1 ^ hi) ^ np.uint64(_key("inv:" + inv)))
        slot = (h % np.uint64(dim)).astype(np.int64)
        sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
        np.add.at(out, slot, sign * vals / norm)
    total = float(np.linalg.norm(out))
    return (out / total if total > 0 else out).astype(np.float32)


def top_k(
    queries: np.ndarray, index: np.ndarray, k: int, exclude: np.ndarray | None = None, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Exact search: for each query row, the ``k`` index rows of largest dot product, best first (ties by lower
    index), as (positions [q, k], scores [q, k]). ``exclude[q]`` is an index position never returned for query q
    (itself), or -1. Works in chunks of queries so memory stays at ``chunk × len(index)`` floats."""
    nq, ni = queries.shape[0], index.shape[0]
    k = max(0, min(k, ni - (1 if exclude is not None else 0)))
    pos = np.zeros((nq, k), np.int64)
    val = np.zeros((nq, k), np.float32)
    if k == 0 or nq == 0:
        return pos, val
    for s in range(0, nq, chunk):
        sims = queries[s : s + chunk] @ index.T
        if exclude is not None:
            ex = exclude[s : s + chunk]
            rows = np.flatnonzero(ex >= 0)
            sims[rows, ex[rows]] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < ni else np.tile(np.arange(ni), (len(sims), 1))
        ps = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -ps), axis=1)  # best score first, then lower index: deterministic
        pos[s : s + chunk] = np.take_along_axis(part, order, axis=1)
        val[s : s + chunk] = np.take_along_axis(ps, order, axis=1)
    return pos, val


def approx_top_k(
    queries: np.ndarray, index: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`top_k`, from an approximate HNSW index (``usearch``, inner product) for very large indexes.
    Built single-threaded so the same vectors give the same graph; results may miss a true neighbour."""
    from usearch.index import Index

    nq, ni = queries.shape[0], index.shape[0]
    k = max(0, min(k, ni - (1 if exclude is not None else 0)))
    pos = np.full((nq, k), -1, np.int64)  # -1: fewer neighbours found than asked for
    val = np.zeros((nq, k), np.float32)
    if k == 0 or nq == 0:
        return pos, val
    idx = Index(ndim=index.shape[1], metric="ip", dtype="f32")
    idx.add(np.arange(ni, dtype=np.uint64), np.ascontiguousarray(index, np.float32), threads=1)
    found = idx.search(np.ascontiguousarray(queries, np.float32), min(ni, k + 1), threads=1)
    keys = np.asarray(found.keys).reshape(nq, -1).astype(np.int64)
    dist = np.asarray(found.distances).reshape(nq, -1)
    for q in range(nq):
        row = [
            (1.0 - float(d), int(j))
            for j, d in zip(keys[q], dist[q])
            if j >= 0 and (exclude is None or j != exclude[q])
        ]
        row.sort(key=lambda t: (-t[0], t[1]))
        for c, (sv, j) in enumerate(row[:k]):
            pos[q, c], val[q, c] = j, sv
    return pos, val
