"""Comparing two fingerprints without either checkpoint: hashes, layer map, token-space CKA, a calibrated p-value."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from fingerprints.calibration import load_calibration
from fingerprints.fingerprint import Fingerprint, blas_threads
from fingerprints.stats import log10_p, norm_logsf, p_value


def hash_kind(meta: dict) -> str:
    """The content-hash function of a fingerprint (files before version 3 do not say: they used SHA-1)."""
    return str(meta.get("content_hash", "sha1"))


def hash_relation(ma: dict, mb: dict) -> dict:
    """What the per-tensor content hashes say, independent of names. Hashes made by different hash functions
    (fingerprints of different tool versions) are not compared: ``comparable`` is then False and nothing counts
    as identical."""
    ha, hb = ma["tensor_hashes"], mb["tensor_hashes"]
    comparable = hash_kind(ma) == hash_kind(mb)
    if not comparable:
        ha = {n: {"content": "a:" + v["content"], "layout": "a:" + v["layout"]} for n, v in ha.items()}
    ca = Counter(v["content"] for v in ha.values())
    cb = Counter(v["content"] for v in hb.values())
    shared = sum((ca & cb).values())
    la = Counter(v["layout"] for v in ha.values())
    lb = Counter(v["layout"] for v in hb.values())
    layout_shared = sum((la & lb).values())
    same_content = ca == cb and len(ha) > 0
    same_names = {n: v["content"] for n, v in ha.items()} == {n: v["content"] for n, v in hb.items()}
    by_content_b = {v["content"]: n for n, v in hb.items()}
    renamed = sorted(
        (n, by_content_b[v["content"]])
        for n, v in ha.items()
        if v["content"] in by_content_b
        and by_content_b[v["content"]] != n
        and hb.get(n, {}).get("content") != v["content"]
    )
    return {
        "tensors_reference": len(ha),
        "tensors_suspect": len(hb),
        "identical_tensors": shared,
        "same_values_other_layout": max(0, layout_shared - shared),
        "all_identical": bool(same_content),
        "identical_names_too": bool(same_content and same_names),
        "renamed_examples": [{"reference": a, "suspect": b} for a, b in renamed[:5]],
        "comparable": comparable,
        "hash_reference": hash_kind(ma),
        "hash_suspect": hash_kind(mb),
    }


MIN_STRING_OVERLAP = 0.5  # share of anchors both string-keyed sets must hold to compare by string


@dataclass
class AnchorSet:
    """One side's Grams and the anchors they are on."""

    grams: np.ndarray
    anchors: list


def _index_set(f: Fingerprint) -> AnchorSet:
    """The index-chosen anchors of a fingerprint: the extra set of a version-4 file with strings, else its own."""
    if f.grams_index is not None and f.meta.get("index_anchors"):
        return AnchorSet(f.grams_index, list(f.meta["index_anchors"]))
    return AnchorSet(f.grams, f.anchors)


def shared_anchors(fa: Fingerprint, fb: Fingerprint) -> tuple[np.ndarray, np.ndarray, str, AnchorSet, AnchorSet]:
    """The anchors both fingerprints hold, chosen jointly: by token string when both carry strings that overlap
    enough, else by token index on the index-chosen sets (which every version-4 fingerprint holds), so a side
    with vocabulary strings and one without still share the full anchor set."""
    if fa.anchor_strings is not None and fb.anchor_strings is not None:
        pos_b = {s: i for i, s in enumerate(fb.anchor_strings)}
        pairs = [(i, pos_b[s]) for i, s in enumerate(fa.anchor_strings) if s in pos_b]
        if len(pairs) >= MIN_STRING_OVERLAP * min(len(fa.anchors), len(fb.anchors)) or (
            fa.grams_index is None or fb.grams_index is None
        ):
            return _pairs(pairs) + ("token-string", AnchorSet(fa.grams, fa.anchors), AnchorSet(fb.grams, fb.anchors))
    sa, sb = _index_set(fa), _index_set(fb)
    pos_b = {t: i for i, t in enumerate(sb.anchors)}
    pairs = [(i, pos_b[t]) for i, t in enumerate(sa.anchors) if t in pos_b]
    return _pairs(pairs) + ("token-index", sa, sb)


def _pairs(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    if not pairs:
        return np.zeros(0, int), np.zeros(0, int)
    a, b = zip(*pairs)
    return np.asarray(a), np.asarray(b)


def similarity_matrix(fa: Fingerprint, fb: Fingerprint) -> tuple[np.ndarray, dict]:
    """[layers of A, layers of B] mean unbiased CKA over the invariants both hold, on the shared anchors."""
    ia, ib, mode, sa, sb = shared_anchors(fa, fb)
    la, lb = len(fa.layers), len(fb.layers)
    info = {
        "shared_anchors": int(len(ia)),
        "anchors_reference": len(sa.anchors),
        "anchors_suspect": len(sb.anchors),
        "vocab_match": mode,
        "invariants": [],
    }
    if len(ia) < 8 or la == 0 or lb == 0:
        return np.zeros((la, lb)), info
    pa, pb = np.asarray(fa.meta["present"], bool), np.asarray(fb.meta["present"], bool)
    total = np.zeros((la, lb))
    count = 0
    sel_a, sel_b = _pair_positions(len(sa.anchors), ia), _pair_positions(len(sb.anchors), ib)
    for j, inv in enumerate(fa.meta["invariants"]):
        if inv not in fb.meta["invariants"]:
            continue
        jb = fb.meta["invariants"].index(inv)
        if not (pa[:, j].any() and pb[:, jb].any()):
            continue
        ua = _u_centred_offdiag(sa.grams[:, j], len(ia), sel_a)
        ub = _u_centred_offdiag(sb.grams[:, jb], len(ib), sel_b)
        na, nb = np.sqrt(np.einsum("ij,ij->i", ua, ua)), np.sqrt(np.einsum("ij,ij->i", ub, ub))
        den = np.outer(na, nb)
        s = np.where(den > 0, (ua @ ub.T) / np.where(den > 0, den, 1.0), 0.0).astype(np.float64)
        s[~pa[:, j], :] = 0.0
        s[:, ~pb[:, jb]] = 0.0
        total += np.clip(s, -1.0, 1.0)
        count += 1
        info["invariants"].append(inv)
    return (total / count if count else total), info


def _pair_positions(k: int, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For anchors ``sel`` (positions among k): where the diagonal and each strictly-upper pair (i<j of the subset)
    sit in the stored upper triangle (row-major, diagonal included), plus the pairs' subset indices."""
    sel = np.asarray(sel)

    def pos(r, c):  # row-major index of (r, c), r <= c, in the upper triangle with diagonal
        return r * k - r * (r - 1) // 2 + (c - r)

    ii, jj = np.triu_indices(len(sel), 1)
    r, c = np.minimum(sel[ii], sel[jj]), np.maximum(sel[ii], sel[jj])
    return pos(r, c), ii, jj


def _u_centred_offdiag(tri: np.ndarray, n: int, sel: tuple) -> np.ndarray:
    """U-centred off-diagonal entries (i<j) of the Grams of all layers [layers, n(n-1)/2] (float64).

    With K̃ U-centred (Székely & Rizzo 2014), HSIC_u(K, L) = <K̃, L̃>/(n(n-3)) — the estimator of
    fingerprinting.md A.4 — and <K̃, L̃> = 2 Σ_{i<j} K̃_ij L̃_ij, so unbiased CKA is a cosine of these vectors.
    """
    pos, ii, jj = sel
    off = tri[:, pos].astype(np.float64)  # [layers, pairs]
    rows = _row_sums(off, ii, jj, n)  # row sums of the symmetric matrix with zeroed diagonal
    total = rows.sum(axis=1, keepdims=True)
    return off - (rows[:, ii] + rows[:, jj]) / (n - 2) + total / ((n - 1) * (n - 2))


def _row_sums(off: np.ndarray, ii: np.ndarray, jj: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros((off.shape[0], n, n))
    full[:, ii, jj] = off
    return full.sum(axis=2) + full.sum(axis=1)


def layer_map(sim: np.ndarray) -> list[int]:
    """For every suspect layer, the reference layer it resembles most (argmax keeps duplicated layers)."""
    if sim.size == 0:
        return []
    return [int(i) for i in np.argmax(sim, axis=0)]


def fingerprint_test(score: float, calib: dict | None = None) -> float:
    """ln p of a fingerprint score under the calibrated null of independent models."""
    c = calib or load_calibration()
    mean = max(c["fp_score_mean"], c["fp_score_max_null"] - 2 * c["fp_score_sd"])
    sd = max(c["fp_score_sd"], c["fp_score_sd_floor"])
    return norm_logsf((score - mean) / sd)


def _neuron_set(f: Fingerprint, mode: str) -> np.ndarray | None:
    """The neuron features on the anchor set the comparison uses (see ``shared_anchors``)."""
    if mode == "token-index" and f.grams_index is not None:
        return f.neurons_index
    return f.neurons


def neuron_evidence(fa: Fingerprint, fb: Fingerprint, lmap: list[int], calib: dict | None = None) -> dict | None:
    """The deep mode's two-matchings test run on stored neuron features (version 4 on both sides), per mapped
    layer pair, combined like deep mode (Fisher over distinct reference layers). Each neuron's two views are seen
    through the same shared anchors on both sides, which a rotation or permutation of the residual stream, gain
    folding and neuron permutations leave unchanged; a model trained from its own initialisation to imitate the
    reference (distillation) matches its function, not its neurons, so its two matchings disagree. None when either
    side has no features."""
    from fingerprints.stats import fisher_ln_p

    ia, ib, mode, _, _ = shared_anchors(fa, fb)
    na, nb = _neuron_set(fa, mode), _neuron_set(fb, mode)
    if na is None or nb is None or fa.meta.get("neuron_views") != fb.meta.get("neuron_views") or not lmap:
        return None
    keep = [(x, y) for x, y in zip(ia, ib) if x < na.shape[3] and y < nb.shape[3]]
    if len(keep) < MIN_NEURON_ANCHORS:
        return None
    ca, cb = (np.asarray(v) for v in zip(*keep))
    c = calib or load_calibration()
    inflation = max(1.0, c.get("fp_neuron_z_sd", c["neuron_z_sd"]) * c["neuron_z_safety"])
    # A bounded amount of matching keeps a comparison of two 7B fingerprints well under a second: up to
    # FP_MAX_LAYERS suspect layers (evenly spaced), FP_MAX_NEURONS suspect neurons each (z ≈ 11 per layer for a copy).
    picked = np.unique(np.linspace(0, len(lmap) - 1, min(FP_MAX_LAYERS, len(lmap))).round().astype(int))
    with blas_threads(1):  # small products: BLAS threads cost more than they save
        layers = [
            e
            for e in (_neuron_layer(fa, fb, na, nb, ca, cb, int(bpos), lmap[bpos], inflation) for bpos in picked)
            if e is not None
        ]
    if not layers:
        return None
    groups: dict[int, list[float]] = {}
    for e in layers:
        groups.setdefault(e["reference"], []).append(e["ln_p"])
    terms = [min(0.0, min(v) + math.log(len(v))) for v in groups.values()]
    return {
        "layers": layers,
        "ln_p": fisher_ln_p(terms),
        "anchors_used": len(keep),
        "agreement": float(np.mean([e["agreement"] for e in layers])),
    }


def _neuron_layer(
    fa: Fingerprint,
    fb: Fingerprint,
    na: np.ndarray,
    nb: np.ndarray,
    ca: np.ndarray,
    cb: np.ndarray,
    bpos: int,
    apos: int,
    inflation: float,
) -> dict | None:
    """The two-matchings test for one mapped layer pair on stored features (shared anchor columns ca / cb)."""
    from fingerprints.neurons import neuron_test  # scipy: imported when a neuron test runs

    ka, kb = fa.meta["neuron_counts"][apos], fb.meta["neuron_counts"][bpos]
    if ka < 3 or kb < 3:
        return None
    sub = np.unique(np.linspace(0, kb - 1, min(FP_MAX_NEURONS, kb)).round().astype(int))
    va = [na[apos, j, :ka][:, ca].astype(np.float32) for j in (0, 1)]
    vb = [nb[bpos, j, sub][:, cb].astype(np.float32) for j in (0, 1)]
    t = neuron_test(va[0], va[1], vb[0], vb[1], inflation)
    return {
        "suspect": fb.layers[bpos],
        "reference": fa.layers[apos],
        "rho": t["rho"],
        "n": t["n"],
        "agreement": t["agreement"],
        "ln_p": t["ln_p"],
    }


MIN_NEURON_ANCHORS = 8
FP_MAX_LAYERS = 6
FP_MAX_NEURONS = 128


def compare_fingerprints(reference: Fingerprint, suspect: Fingerprint) -> dict[str, Any]:
    """Evidence from two fingerprints: hash relation, similarity matrix, layer map, score and ln p."""
    fa, fb = reference, suspect
    hashes = hash_relation(fa.meta, fb.meta)
    sim, info = similarity_matrix(fa, fb)
    lmap = layer_map(sim)
    best = [float(sim[a, b]) for b, a in enumerate(lmap)]
    score = float(np.mean(best)) if best else 0.0
    ln_p = fingerprint_test(score) if info["shared_anchors"] >= 8 else 0.0
    # The token-space CKA measures what the weights compute, which distillation copies too: when both fingerprints
    # carry neuron features, the p-value is the neuron test's (lineage), and the CKA only maps the layers.
    neurons = neuron_evidence(fa, fb, lmap)
    if neurons is not None:
        ln_p = neurons["ln_p"]
    if hashes["all_identical"]:
        # Bit-identical tensors: the chance that independent training yields the same 160-bit hashes is nil.
        ln_p = min(ln_p, -160 * math.log(2))
        score = 1.0
    layers_a, layers_b = fa.layers, fb.layers
    return {
        "hashes": hashes,
        "similarity": sim,
        "layer_map": [
            {"suspect": layers_b[b], "reference": layers_a[a], "token_cka": round(best[b], 4)}
            for b, a in enumerate(lmap)
        ],
        "layer_map_positions": lmap,
        "score": score,
        "ln_p": ln_p,
        "log10_p": log10_p(ln_p),
        "p_value": p_value(ln_p),
        "anchors": info,
        "neurons": neurons,
        "evidence": "neuron-matching (stored features)" if neurons is not None else "token-space CKA",
    }
