"""Comparing two fingerprints without either checkpoint: hashes, layer map, token-space CKA, a calibrated p-value."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from scipy.stats import norm

from fingerprints.calibration import load_calibration
from fingerprints.fingerprint import Fingerprint
from fingerprints.stats import cka_u_matrix, log10_p, p_value


def hash_relation(ma: dict, mb: dict) -> dict:
    """What the per-tensor content hashes say, independent of names."""
    ha, hb = ma["tensor_hashes"], mb["tensor_hashes"]
    ca = Counter(v["content"] for v in ha.values())
    cb = Counter(v["content"] for v in hb.values())
    shared = sum((ca & cb).values())
    la = Counter(v["layout"] for v in ha.values())
    lb = Counter(v["layout"] for v in hb.values())
    layout_shared = sum((la & lb).values())
    same_content = ca == cb and len(ha) > 0
    same_names = {n: v["content"] for n, v in ha.items()} == {n: v["content"] for n, v in hb.items()}
    by_content_b = {v["content"]: n for n, v in hb.items()}
    renamed = sorted((n, by_content_b[v["content"]]) for n, v in ha.items()
                     if v["content"] in by_content_b and by_content_b[v["content"]] != n
                     and hb.get(n, {}).get("content") != v["content"])
    return {
        "tensors_reference": len(ha),
        "tensors_suspect": len(hb),
        "identical_tensors": shared,
        "same_values_other_layout": max(0, layout_shared - shared),
        "all_identical": bool(same_content),
        "identical_names_too": bool(same_content and same_names),
        "renamed_examples": [{"reference": a, "suspect": b} for a, b in renamed[:5]],
    }


def shared_anchors(fa: Fingerprint, fb: Fingerprint) -> tuple[np.ndarray, np.ndarray, str]:
    """Positions of the anchors both fingerprints hold, matched by token string when both have strings."""
    if fa.anchor_strings is not None and fb.anchor_strings is not None:
        pos_b = {s: i for i, s in enumerate(fb.anchor_strings)}
        pairs = [(i, pos_b[s]) for i, s in enumerate(fa.anchor_strings) if s in pos_b]
        mode = "token-string"
    else:
        pos_b = {t: i for i, t in enumerate(fb.anchors)}
        pairs = [(i, pos_b[t]) for i, t in enumerate(fa.anchors) if t in pos_b]
        mode = "token-index"
    if not pairs:
        return np.zeros(0, int), np.zeros(0, int), mode
    a, b = zip(*pairs)
    return np.asarray(a), np.asarray(b), mode


def similarity_matrix(fa: Fingerprint, fb: Fingerprint) -> tuple[np.ndarray, dict]:
    """[layers of A, layers of B] mean unbiased CKA over the invariants both hold, on the shared anchors."""
    ia, ib, mode = shared_anchors(fa, fb)
    la, lb = len(fa.layers), len(fb.layers)
    info = {"shared_anchors": int(len(ia)), "anchors_reference": len(fa.anchors), "anchors_suspect": len(fb.anchors),
            "vocab_match": mode, "invariants": []}
    if len(ia) < 8 or la == 0 or lb == 0:
        return np.zeros((la, lb)), info
    pa, pb = np.asarray(fa.meta["present"], bool), np.asarray(fb.meta["present"], bool)
    total = np.zeros((la, lb))
    count = 0
    ka = len(fa.anchors)
    kb = len(fb.anchors)
    tri_a, tri_b = np.triu_indices(ka), np.triu_indices(kb)
    for j, inv in enumerate(fa.meta["invariants"]):
        if inv not in fb.meta["invariants"]:
            continue
        jb = fb.meta["invariants"].index(inv)
        if not (pa[:, j].any() and pb[:, jb].any()):
            continue
        ga = _unpack(fa.grams[:, j], ka, tri_a)[:, ia][:, :, ia]
        gb = _unpack(fb.grams[:, jb], kb, tri_b)[:, ib][:, :, ib]
        s = cka_u_matrix(ga, gb)
        s[~pa[:, j], :] = 0.0
        s[:, ~pb[:, jb]] = 0.0
        total += s
        count += 1
        info["invariants"].append(inv)
    return (total / count if count else total), info


def _unpack(tri: np.ndarray, k: int, iu: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    out = np.zeros((tri.shape[0], k, k))
    out[:, iu[0], iu[1]] = tri.astype(np.float64)
    return out + np.transpose(np.triu(out, 1), (0, 2, 1))


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
    return float(norm.logsf((score - mean) / sd))


def compare_fingerprints(reference: Fingerprint, suspect: Fingerprint) -> dict[str, Any]:
    """Evidence from two fingerprints: hash relation, similarity matrix, layer map, score and ln p."""
    fa, fb = reference, suspect
    hashes = hash_relation(fa.meta, fb.meta)
    sim, info = similarity_matrix(fa, fb)
    lmap = layer_map(sim)
    best = [float(sim[a, b]) for b, a in enumerate(lmap)]
    score = float(np.mean(best)) if best else 0.0
    ln_p = fingerprint_test(score) if info["shared_anchors"] >= 8 else 0.0
    if hashes["all_identical"]:
        # Bit-identical tensors: the chance that independent training yields the same 160-bit hashes is nil.
        ln_p = min(ln_p, -160 * math.log(2))
        score = 1.0
    layers_a, layers_b = fa.layers, fb.layers
    return {
        "hashes": hashes,
        "similarity": sim,
        "layer_map": [{"suspect": layers_b[b], "reference": layers_a[a], "token_cka": round(best[b], 4)}
                      for b, a in enumerate(lmap)],
        "layer_map_positions": lmap,
        "score": score,
        "ln_p": ln_p,
        "log10_p": log10_p(ln_p),
        "p_value": p_value(ln_p),
        "anchors": info,
    }
