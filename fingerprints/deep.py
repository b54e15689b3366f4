"""Deep pairwise comparison of two models whose weights are both at hand.

Steps (fingerprinting.md, sections A and B):
1. fingerprints of both (one pass each): per-tensor hashes prove exact copies, token-space CKA maps the layers
   (argmax per suspect layer, so pruned, duplicated and reordered layers are handled);
2. residual alignment from shared-token embedding rows (signed permutation, Procrustes fallback);
3. per mapped layer pair: unbiased CKA of the aligned weight Grams (q, k), and the neuron test — the suspect's MLP
   neurons (a deterministic subset of rows) are matched to the reference's by linear assignment twice, once on
   gate rows and once on up rows; for a derived model both matchings recover the same neuron correspondence
   (whatever permutation was applied), for independent models they are unrelated. The per-layer statistic is
   Spearman's ρ between the two matchings, ln p = ln Φ̄(ρ·√(n−1)/κ) with κ from calibration;
4. Fisher's combination over distinct reference layers (suspect layers mapped to one reference layer count once,
   with a Bonferroni factor), in log space.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from fingerprints.align import align_residual, rotation
from fingerprints.calibration import load_calibration
from fingerprints.canon import ModelView
from fingerprints.compare import compare_fingerprints
from fingerprints.fingerprint import WORKERS, Fingerprint, blas_threads, compute_fingerprint, select_rows
from fingerprints.stats import cka_u, fisher_ln_p, log10_p, p_value, spearman, spearman_ln_p

MAX_NEURONS = 512  # suspect neurons tested per layer (z grows as √n; 512 gives z ≈ 22 for an exact match)
MAX_ALIGN_TOKENS = 16384


def _rownorm(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def shared_token_rows(va: ModelView, vb: ModelView, strings_a: list[str] | None,
                      strings_b: list[str] | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of tokens present in both vocabularies: by string when both are known, else by index."""
    if strings_a and strings_b:
        pos_b: dict[str, int] = {}
        for i, s in enumerate(strings_b[:vb.vocab_size]):
            pos_b.setdefault(s, i)
        pairs = [(i, pos_b[s]) for i, s in enumerate(strings_a[:va.vocab_size]) if s in pos_b]
        if len(pairs) >= 16:
            a, b = map(np.asarray, zip(*pairs))
            return a, b, "token-string"
    n = min(va.vocab_size, vb.vocab_size)
    return np.arange(n), np.arange(n), "token-index"


def neuron_test(ga: np.ndarray, ua: np.ndarray, gb: np.ndarray, ub: np.ndarray, inflation: float) -> dict:
    """Matchings of MLP neurons from two independent views of each neuron (already in one residual basis) and their
    agreement: gate rows and up rows for a gated MLP; up rows and down columns for a plain one."""
    fb, fa = gb.shape[0], ga.shape[0]
    n = min(MAX_NEURONS, fb, fa)
    sub = np.unique(np.linspace(0, fb - 1, n).round().astype(int))
    n = len(sub)
    _, pg = linear_sum_assignment(_rownorm(gb[sub]) @ _rownorm(ga).T, maximize=True)
    _, pu = linear_sum_assignment(_rownorm(ub[sub]) @ _rownorm(ua).T, maximize=True)
    rho = spearman(pg, pu)
    return {"rho": rho, "n": n, "agreement": float(np.mean(pg == pu)),
            "ln_p": spearman_ln_p(rho, n, inflation),
            "identity_fraction": float(np.mean(pg == sub)) if fa == fb else None}


def deep_compare(ref_tensors: Mapping[str, Any], ref_arch: Mapping[str, Any] | None,
                 sus_tensors: Mapping[str, Any], sus_arch: Mapping[str, Any] | None, *,
                 ref_tokens: list[str] | None = None, sus_tokens: list[str] | None = None,
                 ref_fingerprint: Fingerprint | None = None, sus_fingerprint: Fingerprint | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Evidence that ``sus`` shares weight lineage with ``ref`` (both canonical HF-named tensor mappings)."""
    calib = load_calibration()
    inflation = max(1.0, calib["neuron_z_sd"] * calib["neuron_z_safety"])

    def step(what: str) -> Callable[[int, int], None] | None:
        return (lambda d, t: progress(what, d, t)) if progress else None

    fa = ref_fingerprint or compute_fingerprint(ref_tensors, ref_arch, token_strings=ref_tokens,
                                                progress=step("fingerprint reference"))
    fb = sus_fingerprint or compute_fingerprint(sus_tensors, sus_arch, token_strings=sus_tokens,
                                                progress=step("fingerprint suspect"))
    fp = compare_fingerprints(fa, fb)
    va, vb = ModelView(ref_tensors, ref_arch), ModelView(sus_tensors, sus_arch)

    ta, tb, vocab_mode = shared_token_rows(va, vb, ref_tokens, sus_tokens)
    if len(ta) > MAX_ALIGN_TOKENS:  # a deterministic, evenly spread subset is plenty for d ≤ 8192
        keep = np.linspace(0, len(ta) - 1, MAX_ALIGN_TOKENS).round().astype(int)
        ta, tb = ta[keep], tb[keep]
    ea = select_rows(va.embedding(), ta)
    eb = select_rows(vb.embedding(), tb)
    alignment = align_residual(ea, eb)
    del ea, eb
    q = alignment.q
    rotate = rotation(q)  # h_reference -> h_suspect basis; a gather for signed permutations

    lmap = fp["layer_map_positions"]
    total = len(lmap)

    def one_layer(bpos: int, apos: int) -> dict[str, Any]:
        la, lb = va.layers[apos], vb.layers[bpos]
        entry: dict[str, Any] = {"suspect": lb, "reference": la,
                                 "token_cka": round(float(fp["similarity"][apos, bpos]), 4)}
        ckas = []
        for role in ("q", "k"):
            if va.has(la, role) and vb.has(lb, role):
                wa = rotate(va.folded(la, role))
                wb = vb.folded(lb, role)
                ckas.append(cka_u(wa.T @ wa, wb.T @ wb))  # float32 Grams; CKA itself runs in float64
        entry["weight_cka_qk"] = round(float(np.mean(ckas)), 4) if ckas else None
        def both(roles: tuple[str, ...]) -> bool:
            return all(v.has(l, r) for v, l in ((va, la), (vb, lb)) for r in roles)

        t = None
        if both(("gate", "up")):
            t = neuron_test(rotate(va.folded(la, "gate")), rotate(va.folded(la, "up")),
                            vb.folded(lb, "gate"), vb.folded(lb, "up"), inflation)
        elif both(("up", "down")):  # plain MLP (GPT-NeoX, GPT-2, Falcon): a neuron's input row and output column
            t = neuron_test(rotate(va.folded(la, "up")), rotate(va.folded(la, "down").T),
                            vb.folded(lb, "up"), vb.folded(lb, "down").T, inflation)
            entry["neuron_views"] = "up rows, down columns"
        if t is not None:
            entry.update({"neuron_rho": round(t["rho"], 4), "neurons_tested": t["n"],
                          "neuron_agreement": round(t["agreement"], 4), "ln_p": t["ln_p"],
                          "log10_p": round(log10_p(t["ln_p"]), 2)})
            if t["identity_fraction"] is not None:
                entry["neurons_in_place"] = round(t["identity_fraction"], 4)
        return entry

    # Layers are independent: WORKERS at a time, one BLAS thread each (results do not depend on the count).
    layers = []
    with blas_threads(1 if WORKERS > 1 else None), ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(one_layer, bpos, apos) for bpos, apos in enumerate(lmap)]
        for i, f in enumerate(futures):
            layers.append(f.result())
            if progress:
                progress("compare layers", i + 1, total)

    # One term per distinct reference layer: duplicated suspect layers must not count twice.
    groups: dict[int, list[float]] = {}
    for e in layers:
        if "ln_p" in e:
            groups.setdefault(e["reference"], []).append(e["ln_p"])
    terms = [min(0.0, min(v) + math.log(len(v))) for v in groups.values()]
    ln_p = fisher_ln_p(terms) if terms else 0.0
    # No layer has an MLP to match neurons in: the deep test has nothing to say, so the fingerprint test decides.
    evidence = "neuron-matching" if terms else "fingerprint (no MLP neuron test was possible)"
    if not terms:
        ln_p = float(fp["ln_p"])
    tested = [e for e in layers if "neuron_agreement" in e]
    score = float(np.mean([e["neuron_agreement"] for e in tested])) if tested else 0.0
    return {
        "fingerprint": fp,
        "alignment": dict(alignment.as_dict(), shared_tokens=int(len(ta)), vocab_match=vocab_mode),
        "layers": layers,
        "ln_p": ln_p,
        "log10_p": log10_p(ln_p),
        "p_value": p_value(ln_p),
        "score": score,
        "reference_fingerprint": fa,
        "suspect_fingerprint": fb,
        "neuron_inflation": inflation,
        "evidence": evidence,
    }
